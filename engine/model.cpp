#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "engine/linear.h"
#include "engine/rng.h"

namespace aha {

Model::Model(const ModelConfig& cfg_in, kernels::Ops& ops) : cfg(cfg_in), ops_(ops) {
  const ModelConfig& c = cfg;
  const int d = c.hidden_size, L = c.num_hidden_layers;
  embed_ = params.add("model.embed_tokens.weight", {c.vocab_size, d}, false);
  blocks_.resize(L);
  for (int l = 0; l < L; l++)
    block_register(params, c, "model.layers." + std::to_string(l) + ".", c.is_moe_layer(l), blocks_[l]);
  norm_ = params.add("model.norm.weight", {d}, false);
  head_ = params.add("lm_head.weight", {c.vocab_size, d});
  // MTP depth k is stored as layer L + k - 1 (DeepSeek-V3's checkpoint layout).
  mtp_.resize(c.num_nextn_predict_layers);
  for (int k = 0; k < c.num_nextn_predict_layers; k++) {
    const std::string pre = "model.layers." + std::to_string(L + k) + ".";
    Mtp& m = mtp_[k];
    m.enorm = params.add(pre + "enorm.weight", {d}, false);
    m.hnorm = params.add(pre + "hnorm.weight", {d}, false);
    m.eh_proj = params.add(pre + "eh_proj.weight", {d, 2 * d});
    block_register(params, c, pre, c.is_moe_layer(L + k), m.block);
    m.head_norm = params.add(pre + "shared_head.norm.weight", {d}, false);
  }
  params.allocate();
  blocks_acts_.resize(L);
  mtp_acts_.resize(c.num_nextn_predict_layers);
  xs_.resize(L + 1);
}

void Model::init_weights(uint64_t seed) {
  Rng rng(seed);
  for (const ParamInfo& p : params.infos) {
    float* w = params.w(p.offset);
    const bool is_norm = p.shape.size() == 1 && p.trainable;
    for (size_t i = 0; i < p.numel; i++)
      w[i] = !p.trainable ? 0.0f : is_norm ? 1.0f : (float)(rng.normal() * cfg.initializer_range);
  }
  zero_grad();
}

void Model::zero_grad() {
  // Deliberately not an OpenMP loop: the constructor calls this, and models are built on
  // whichever thread creates them (the studio's or the CLI's main thread, before a run's
  // worker thread starts). An OpenMP region there starts a second libgomp thread pool;
  // counting more threads than cores, libgomp then stops spinning between parallel regions
  // and every region of every later step pays a futex wake-up (seen: GRPO's generation
  // 7,875 -> 3,490 tokens/s on 2 threads). In a data-parallel step every model, the
  // master included, zeroes its own gradients on its own worker thread
  // (DataParallel::forward_backward with zero_grads).
  std::fill(params.grads.begin(), params.grads.end(), 0.0f);
}

size_t Model::params_active() const {
  size_t inactive = 0;
  const size_t expert = (size_t)3 * cfg.hidden_size * cfg.moe_intermediate_size;
  const int moe_layers = [&] {
    int n = 0;
    for (int l = 0; l < cfg.num_hidden_layers + cfg.num_nextn_predict_layers; l++) n += cfg.is_moe_layer(l);
    return n;
  }();
  inactive = (size_t)moe_layers * (cfg.n_routed_experts - cfg.num_experts_per_tok) * expert;
  return params_total() - inactive;
}

double Model::flops_per_token(int T) const {
  // 6 FLOPs per multiply-accumulate weight per token (forward 2, backward 4), for every
  // GEMM weight a token passes through (embedding lookup excluded), plus attention
  // scores and values over the (T+1)/2 keys a causal query sees on average.
  const ModelConfig& c = cfg;
  const double d = c.hidden_size, H = c.num_attention_heads;
  const double dqk = c.qk_head_dim(), dv = c.v_head_dim, dc = c.kv_lora_rank, dr = c.qk_rope_head_dim;
  const double attn_w = (c.q_lora_rank > 0 ? d * c.q_lora_rank + c.q_lora_rank * H * dqk : d * H * dqk) +
                        d * (dc + dr) + dc * H * (c.qk_nope_head_dim + dv) + H * dv * d;
  auto ffn_w = [&](int l) {
    if (!c.is_moe_layer(l)) return 3.0 * d * c.intermediate_size;
    return 3.0 * d * c.moe_intermediate_size * (c.n_shared_experts + c.num_experts_per_tok) +
           d * c.n_routed_experts;
  };
  const double attn_core = 2.0 * H * (dqk + dv) * (T + 1) / 2.0;  // forward, per token per layer
  double fwd_w = d * c.vocab_size;  // head
  double fwd_attn = 0.0;
  for (int l = 0; l < c.num_hidden_layers; l++) { fwd_w += attn_w + ffn_w(l); fwd_attn += attn_core; }
  for (int k = 0; k < c.num_nextn_predict_layers; k++) {
    const int l = c.num_hidden_layers + k;
    fwd_w += 2 * d * d + attn_w + ffn_w(l) + d * c.vocab_size;
    fwd_attn += attn_core;
  }
  return 6.0 * fwd_w + 3.0 * fwd_attn;
}

double Model::kv_bytes_per_token(bool mla, int elem_bytes) const {
  const double per_layer = mla ? cfg.kv_lora_rank + cfg.qk_rope_head_dim
                               : (double)cfg.num_attention_heads * (cfg.qk_head_dim() + cfg.v_head_dim);
  return per_layer * cfg.num_hidden_layers * elem_bytes;
}

// h [N,d] → final norm → logits [N,V] → per-token CE loss [N]
void Model::head_loss(const float* h, size_t norm_w, Buf& hn, Buf& rstd, Buf& logits, Buf& loss,
                      const int32_t* tgt, int N) {
  const int d = cfg.hidden_size, V = cfg.vocab_size;
  ensure(hn, (size_t)N * d); ensure(rstd, N); ensure(logits, (size_t)N * V); ensure(loss, N);
  ops_.rmsnorm_forward(hn.data(), rstd.data(), h, params.w(norm_w), N, d, (float)cfg.rms_norm_eps);
  linear_fwd(ops_, logits.data(), hn.data(), params.w(head_), N, d, V);
  ops_.xent_forward(loss.data(), logits.data(), tgt, N, V);
}

namespace {
// Inference (logits, decoding) routes tokens too, but must not count towards the loads the
// auxiliary-loss-free bias update balances: this keeps training's loads across it.
class KeepExpertLoads {
 public:
  explicit KeepExpertLoads(std::vector<BlockActs>& acts) : acts_(acts) {
    for (const BlockActs& a : acts_) kept_.push_back(a.moe.load);
  }
  ~KeepExpertLoads() {
    for (size_t l = 0; l < acts_.size(); l++) acts_[l].moe.load = kept_[l];
  }

 private:
  std::vector<BlockActs>& acts_;
  std::vector<std::vector<int64_t>> kept_;
};

double masked_mean(const float* loss, const float* mask, int N, double& denom) {
  double s = 0.0;
  denom = 0.0;
  for (int n = 0; n < N; n++) { s += (double)loss[n] * mask[n]; denom += mask[n]; }
  return denom > 0 ? s / denom : 0.0;
}
}  // namespace

LossParts Model::forward_backward(const Batch& batch, float loss_scale, const LossNorm* norm) {
  return run(batch, loss_scale, true, nullptr, nullptr, nullptr, norm);
}

LossNorm Model::loss_norm(const Batch& bt) const {
  LossNorm n;
  const int B = bt.B, T = bt.T, D = cfg.num_nextn_predict_layers;
  for (float m : bt.mask) n.lm += m;
  n.mtp.assign(D, 0.0);
  for (int k = 0; k < D; k++)  // depth k scores position i + k + 1 (see run)
    for (int b = 0; b < B; b++)
      for (int i = 0; i + k + 1 < T; i++) n.mtp[k] += bt.mask[(size_t)b * T + i + k + 1];
  return n;
}
LossParts Model::forward_loss(const Batch& batch) { return run(batch, 1.0f, false); }

LossParts Model::forward_backward_objective(const Batch& batch, const TokenObjective& objective,
                                            float loss_scale, std::vector<float>* entropy) {
  if (!objective) throw InvalidArgument("forward_backward_objective: no objective");
  std::vector<float> logp;
  return run(batch, loss_scale, true, &objective, &logp, entropy);
}

void Model::token_logprobs(const Batch& batch, std::vector<float>& logp, std::vector<float>* entropy) {
  const KeepExpertLoads keep(blocks_acts_);
  const TokenObjective none = [](const std::vector<float>&, std::vector<float>&) { return 0.0; };
  run(batch, 1.0f, false, &none, &logp, entropy);
}

double logits_entropy(const float* l, int V) {
  const double mx = *std::max_element(l, l + V);
  double z = 0.0, zl = 0.0;  // Σ e^(l−mx), Σ e^(l−mx)·(l−mx)
  for (int i = 0; i < V; i++) {
    const double e = std::exp(l[i] - mx);
    z += e;
    zl += e * (l[i] - mx);
  }
  return std::log(z) - zl / z;  // H = log Z − E[l − mx]
}

namespace {
// Lends one of the model's scratch sets to a block for the length of its forward or
// backward (swap_forward_scratch / swap_backward_scratch, layers.h); given back on every
// exit, exceptions included.
struct LentScratch {
  using Swap = void (*)(BlockActs&, BlockActs&);
  BlockActs& scratch;
  BlockActs& block;
  Swap swap;
  LentScratch(BlockActs& s, BlockActs& b, Swap f) : scratch(s), block(b), swap(f) { swap(scratch, block); }
  ~LentScratch() { swap(scratch, block); }
  LentScratch(const LentScratch&) = delete;
  LentScratch& operator=(const LentScratch&) = delete;
};

// Entropy (nats) of softmax(logits[n, :]) for the rows with tgt[n] >= 0, 0 elsewhere.
void row_entropy(const float* logits, const int32_t* tgt, int N, int V, std::vector<float>& out) {
  out.assign(N, 0.0f);
  for (int n = 0; n < N; n++)
    if (tgt[n] >= 0) out[n] = (float)logits_entropy(logits + (size_t)n * V, V);
}
}  // namespace

namespace {
// A packed batch's layout must be one a causal model can run: positions in range, and
// every query keeping its own key and the past before its gap.
void check_packed(const Batch& bt, int mtp_depths, int max_positions) {
  const size_t N = (size_t)bt.B * bt.T;
  if (bt.positions.size() != N || bt.gap_begin.size() != N || bt.gap_end.size() != N)
    throw InvalidArgument("packed batch: positions, gap_begin and gap_end must each hold B*T = " + std::to_string(N) +
                          " values");
  if (mtp_depths > 0)
    throw InvalidArgument("packed batch: only token objectives (GRPO) take packed rows; MTP would predict across completions");
  for (size_t n = 0; n < N; n++) {
    const int t = (int)(n % bt.T);
    if (bt.positions[n] < 0 || bt.positions[n] > t || bt.positions[n] >= max_positions)
      throw InvalidArgument("packed batch: position " + std::to_string(bt.positions[n]) + " of token " + std::to_string(n) +
                            " is not in [0, min(" + std::to_string(t) + ", max_position_embeddings - 1)]");
    if (bt.gap_begin[n] < 0 || bt.gap_begin[n] > bt.gap_end[n] || bt.gap_end[n] > t)
      throw InvalidArgument("packed batch: gap [" + std::to_string(bt.gap_begin[n]) + ", " + std::to_string(bt.gap_end[n]) +
                            ") of token " + std::to_string(n) + " is not inside [0, " + std::to_string(t) + "]");
  }
}
}  // namespace

LossParts Model::run(const Batch& bt, float loss_scale, bool backward, const TokenObjective* objective,
                     std::vector<float>* logp, std::vector<float>* entropy, const LossNorm* norm) {
  const ModelConfig& c = cfg;
  const int B = bt.B, T = bt.T, N = B * T, d = c.hidden_size, V = c.vocab_size;
  const int L = c.num_hidden_layers, D = objective ? 0 : c.num_nextn_predict_layers;
  if (prec_) prec_->count_cache(backward);  // only a training forward keeps inputs for Wgrad
  if (norm && (int)norm->mtp.size() != D)
    throw InvalidArgument("loss norm: " + std::to_string(norm->mtp.size()) + " MTP denominators for " +
                          std::to_string(D) + " depths");
  if ((int)bt.inputs.size() != N || (int)bt.targets.size() != N || (int)bt.mask.size() != N)
    throw InvalidArgument("batch: inputs, targets and mask must each hold B*T = " + std::to_string(N) + " values");
  if (T > c.max_position_embeddings && !bt.packed())  // a packed row is longer than its positions
    throw InvalidArgument("batch: sequence length " + std::to_string(T) + " exceeds max_position_embeddings " +
                          std::to_string(c.max_position_embeddings));
  for (int n = 0; n < N; n++) {
    if (bt.inputs[n] < 0 || bt.inputs[n] >= V || bt.targets[n] >= V || (bt.targets[n] < 0 && bt.mask[n] != 0.0f))
      throw InvalidArgument("batch: token id out of range [0, " + std::to_string(V) + ") at position " +
                            std::to_string(n) + " (a negative target needs mask 0)");
    if (!(bt.mask[n] >= 0.0f) || !std::isfinite(bt.mask[n]))
      throw InvalidArgument("batch: mask at position " + std::to_string(n) + " must be finite and >= 0");
  }
  pos_.resize(N);
  for (int n = 0; n < N; n++) pos_[n] = n % T;
  if (bt.packed()) check_packed(bt, D, c.max_position_embeddings);
  const TokenRows rows = bt.packed() ? TokenRows(bt.positions.data(), bt.gap_begin.data(), bt.gap_end.data())
                                     : TokenRows(pos_.data());
  std::vector<int32_t> tgt(bt.targets);
  for (int n = 0; n < N; n++) if (bt.mask[n] == 0.0f) tgt[n] = -1;  // unscored: no CE work

  // ---- forward: embedding, blocks, head ----
  for (auto& x : xs_) ensure(x, (size_t)N * d);
  ops_.gather_rows(xs_[0].data(), params.w(embed_), bt.inputs.data(), nullptr, N, d);  // [N,d]
  for (int l = 0; l < L; l++) {
    lin_layer(l);
    const LentScratch lent(fwd_scratch_, blocks_acts_[l], swap_forward_scratch);
    blocks_acts_[l].mla.keep_probs = backward;  // attention probabilities only for a backward
    block_forward(lin_ops(), c, params, blocks_[l], blocks_acts_[l], xs_[l + 1].data(), xs_[l].data(),
                  rows, B, T);
  }
  head_loss(xs_[L].data(), norm_, hn_, hn_rstd_, logits_, loss_, tgt.data(), N);
  LossParts out;
  out.lm = masked_mean(loss_.data(), bt.mask.data(), N, out.scored_tokens);
  // a shard of a larger batch: its additive part of the whole batch's mean
  const double lm_denom = norm ? norm->lm : out.scored_tokens;
  if (norm) out.lm = norm->lm > 0 ? out.lm * out.scored_tokens / norm->lm : 0.0;
  const double rows_share = norm ? norm->rows_share : 1.0;
  std::vector<float> dlogp;
  if (objective) {
    logp->assign(N, 0.0f);
    for (int n = 0; n < N; n++) if (tgt[n] >= 0) (*logp)[n] = -loss_[n];
    if (entropy) row_entropy(logits_.data(), tgt.data(), N, V, *entropy);
    dlogp.assign(N, 0.0f);
    out.lm = (*objective)(*logp, dlogp);
  }
  for (int l = 0; l < L; l++)
    if (blocks_[l].moe) out.balance += rows_share * blocks_acts_[l].moe.r.balance_loss;

  // ---- forward: MTP depths. Depth k at position i reads token i+k and predicts i+k+1.
  const float* hprev = xs_[L].data();
  std::vector<double> mtp_denom(D);
  for (int k = 0; k < D; k++) {
    Mtp& m = mtp_[k];
    MtpActs& a = mtp_acts_[k];
    a.tok.assign(N, 0); a.tgt.assign(N, -1); a.mask.assign(N, 0.0f);
    for (int b = 0; b < B; b++)
      for (int i = 0; i + k + 1 < T; i++) {
        const int n = b * T + i, src = b * T + i + k + 1;
        a.tok[n] = bt.inputs[src];
        a.tgt[n] = tgt[src];
        a.mask[n] = bt.mask[src];
      }
    for (Buf* bf : {&a.emb, &a.en, &a.hn, &a.hp, &a.hout}) ensure(*bf, (size_t)N * d);
    ensure(a.en_rstd, N); ensure(a.hn_rstd, N);
    ops_.gather_rows(a.emb.data(), params.w(embed_), a.tok.data(), nullptr, N, d);
    ops_.rmsnorm_forward(a.en.data(), a.en_rstd.data(), a.emb.data(), params.w(m.enorm), N, d, (float)c.rms_norm_eps);
    ops_.rmsnorm_forward(a.hn.data(), a.hn_rstd.data(), hprev, params.w(m.hnorm), N, d, (float)c.rms_norm_eps);
    // hp = eh_proj([en ; hn]) as two GEMMs over the column halves of eh_proj [d, 2d]
    linear_fwd(ops_, a.hp.data(), a.en.data(), params.w(m.eh_proj), N, d, d, 0.0f, 0, 2 * d);
    linear_fwd(ops_, a.hp.data(), a.hn.data(), params.w(m.eh_proj) + d, N, d, d, 1.0f, 0, 2 * d);
    lin_layer(L + (int)k);
    {
      const LentScratch lent(fwd_scratch_, a.block, swap_forward_scratch);
      a.block.mla.keep_probs = backward;
      block_forward(lin_ops(), c, params, m.block, a.block, a.hout.data(), a.hp.data(), pos_.data(), B, T);
    }
    head_loss(a.hout.data(), m.head_norm, a.sh, a.sh_rstd, a.logits, a.loss, a.tgt.data(), N);
    out.mtp.push_back(masked_mean(a.loss.data(), a.mask.data(), N, mtp_denom[k]));
    if (norm) {  // this shard's part of the whole batch's mean, and the whole batch's denominator
      out.mtp.back() = norm->mtp[k] > 0 ? out.mtp.back() * mtp_denom[k] / norm->mtp[k] : 0.0;
      mtp_denom[k] = norm->mtp[k];
    }
    if (m.block.moe) out.balance += rows_share * a.block.moe.r.balance_loss;
    hprev = a.hout.data();
  }
  double mtp_mean = 0.0;
  for (double v : out.mtp) mtp_mean += v / D;
  out.total = out.lm + c.mtp_loss_weight * mtp_mean + out.balance;
  if (!std::isfinite(out.total))
    throw NumericError("loss is not finite (lm " + std::to_string(out.lm) + ", balance " +
                       std::to_string(out.balance) + ")");
  if (!backward) return out;

  // ---- backward: MTP depths, last first ----
  ensure(dh_, (size_t)N * d); ensure(dtmp_, (size_t)N * d);
  std::fill(dh_.begin(), dh_.begin() + (size_t)N * d, 0.0f);  // dL/d h^0 (main trunk output)
  Buf* dnext = nullptr;  // dL/d h^k from depth k+1
  for (int k = D - 1; k >= 0; k--) {
    Mtp& m = mtp_[k];
    MtpActs& a = mtp_acts_[k];
    for (Buf* bf : {&a.dh, &a.dtmp, &a.dhout, &a.demb}) ensure(*bf, (size_t)N * d);
    ensure(a.dloss, N);
    const double w = mtp_denom[k] > 0 ? loss_scale * c.mtp_loss_weight / D / mtp_denom[k] : 0.0;
    for (int n = 0; n < N; n++) a.dloss[n] = (float)(w * a.mask[n]);
    ops_.xent_backward(a.logits.data(), a.logits.data(), a.tgt.data(), a.dloss.data(), N, V);  // in place
    linear_bwd_dw(ops_, params.g(head_), a.logits.data(), a.sh.data(), N, d, V);
    linear_bwd_dx(ops_, a.dtmp.data(), a.logits.data(), params.w(head_), N, d, V);
    ops_.rmsnorm_backward(a.dhout.data(), params.g(m.head_norm), a.dtmp.data(), a.hout.data(),
                          params.w(m.head_norm), a.sh_rstd.data(), N, d);
    if (dnext) ops_.axpy(a.dhout.data(), dnext->data(), 1.0f, (size_t)N * d);
    lin_layer(L + (int)k);
    {
      const LentScratch lent(bwd_scratch_, a.block, swap_backward_scratch);
      block_backward(lin_ops(), c, params, m.block, a.block, a.dh.data(), a.dhout.data(), a.hp.data(),
                     pos_.data(), B, T, loss_scale * rows_share);
    }
    // a.dh = dL/d hp; through eh_proj to en and hn
    linear_bwd_dw(ops_, params.g(m.eh_proj), a.dh.data(), a.en.data(), N, d, d, 0, 0, 2 * d);
    linear_bwd_dw(ops_, params.g(m.eh_proj) + d, a.dh.data(), a.hn.data(), N, d, d, 0, 0, 2 * d);
    linear_bwd_dx(ops_, a.dtmp.data(), a.dh.data(), params.w(m.eh_proj), N, d, d, 0.0f, 0, 2 * d);
    ops_.rmsnorm_backward(a.demb.data(), params.g(m.enorm), a.dtmp.data(), a.emb.data(),
                          params.w(m.enorm), a.en_rstd.data(), N, d);
    ops_.scatter_add_rows(params.g(embed_), a.demb.data(), a.tok.data(), nullptr, N, d);
    linear_bwd_dx(ops_, a.dtmp.data(), a.dh.data(), params.w(m.eh_proj) + d, N, d, d, 0.0f, 0, 2 * d);
    const float* hin = k == 0 ? xs_[L].data() : mtp_acts_[k - 1].hout.data();
    ops_.rmsnorm_backward(a.dh.data(), params.g(m.hnorm), a.dtmp.data(), hin, params.w(m.hnorm),
                          a.hn_rstd.data(), N, d);  // a.dh = dL/d h^{k-1} from this depth
    dnext = &a.dh;
  }

  // ---- backward: main head ----
  ensure(dloss_, N);
  if (objective) {
    // dL/dlogits = dL/dlogp · (onehot − softmax) = −dL/dlogp · d(CE)/dlogits
    for (int n = 0; n < N; n++) {
      if (!std::isfinite(dlogp[n]))
        throw NumericError("objective gradient is not finite at position " + std::to_string(n));
      dloss_[n] = tgt[n] >= 0 ? -loss_scale * dlogp[n] : 0.0f;
    }
  } else {
    const double wl = lm_denom > 0 ? loss_scale / lm_denom : 0.0;
    for (int n = 0; n < N; n++) dloss_[n] = (float)(wl * bt.mask[n]);
  }
  ops_.xent_backward(logits_.data(), logits_.data(), tgt.data(), dloss_.data(), N, V);
  linear_bwd_dw(ops_, params.g(head_), logits_.data(), hn_.data(), N, d, V);
  linear_bwd_dx(ops_, dtmp_.data(), logits_.data(), params.w(head_), N, d, V);
  ops_.rmsnorm_backward(dh_.data(), params.g(norm_), dtmp_.data(), xs_[L].data(), params.w(norm_),
                        hn_rstd_.data(), N, d);
  if (dnext) ops_.axpy(dh_.data(), dnext->data(), 1.0f, (size_t)N * d);

  // ---- backward: blocks, embedding ----
  for (int l = L - 1; l >= 0; l--) {
    lin_layer(l);
    {
      const LentScratch lent(bwd_scratch_, blocks_acts_[l], swap_backward_scratch);
      block_backward(lin_ops(), c, params, blocks_[l], blocks_acts_[l], dtmp_.data(), dh_.data(),
                     xs_[l].data(), rows, B, T, loss_scale * rows_share);
    }
    std::swap(dh_, dtmp_);
  }
  ops_.scatter_add_rows(params.g(embed_), dh_.data(), bt.inputs.data(), nullptr, N, d);
  return out;
}

void Model::logits(const int32_t* tokens, int B, int T, AttnPath path, std::vector<float>& out) {
  const ModelConfig& c = cfg;
  const int N = B * T, d = c.hidden_size, V = c.vocab_size, L = c.num_hidden_layers;
  if (T > c.max_position_embeddings)
    throw InvalidArgument("sequence length " + std::to_string(T) + " exceeds max_position_embeddings " +
                          std::to_string(c.max_position_embeddings));
  for (int n = 0; n < N; n++)
    if (tokens[n] < 0 || tokens[n] >= V)
      throw InvalidArgument("token " + std::to_string(tokens[n]) + " at position " + std::to_string(n) +
                            " is outside the vocabulary [0, " + std::to_string(V) + ")");
  pos_.resize(N);
  for (int n = 0; n < N; n++) pos_[n] = n % T;
  for (auto& x : xs_) ensure(x, (size_t)N * d);
  std::vector<int32_t> tok(tokens, tokens + N);
  const KeepExpertLoads keep(blocks_acts_);
  ops_.gather_rows(xs_[0].data(), params.w(embed_), tok.data(), nullptr, N, d);
  for (int l = 0; l < L; l++) {
    const LentScratch lent(fwd_scratch_, blocks_acts_[l], swap_forward_scratch);
    blocks_acts_[l].mla.keep_probs = false;  // no backward follows
    block_forward(ops_, c, params, blocks_[l], blocks_acts_[l], xs_[l + 1].data(), xs_[l].data(),
                  pos_.data(), B, T, path);
  }
  ensure(hn_, (size_t)N * d); ensure(hn_rstd_, N);
  out.resize((size_t)N * V);
  ops_.rmsnorm_forward(hn_.data(), hn_rstd_.data(), xs_[L].data(), params.w(norm_), N, d, (float)c.rms_norm_eps);
  linear_fwd(ops_, out.data(), hn_.data(), params.w(head_), N, d, V);
}

namespace {
// The MTP block's expert loads, kept across a decoding call like KeepExpertLoads.
class KeepMoeLoad {
 public:
  explicit KeepMoeLoad(MoeActs& a) : a_(a), kept_(a.load) {}
  ~KeepMoeLoad() { a_.load = kept_; }

 private:
  MoeActs& a_;
  std::vector<int64_t> kept_;
};

Model::DecodeCache make_cache(const ModelConfig& cfg, int B, int capacity, AttnPath path, int layers) {
  if (B < 1 || capacity < 1 || capacity > cfg.max_position_embeddings)
    throw InvalidArgument("decode cache: need 1 <= rows and 1 <= capacity <= max_position_embeddings (" +
                          std::to_string(cfg.max_position_embeddings) + "), got " + std::to_string(B) + " x " +
                          std::to_string(capacity));
  Model::DecodeCache c;
  c.B = B;
  c.capacity = capacity;
  c.path = path;
  c.width = mla_cache_width(cfg, path);
  c.start.assign(B, 0);
  c.layers.assign(layers, std::vector<float>((size_t)B * capacity * c.width, 0.0f));
  return c;
}

MlaCacheView view(Model::DecodeCache& cache, int layer) {
  MlaCacheView v;
  v.data = cache.layers[layer].data();
  v.capacity = cache.capacity;
  v.T = cache.T;
  v.start = cache.start.empty() ? nullptr : cache.start.data();
  v.path = cache.path;
  return v;
}
}  // namespace

Model::DecodeCache Model::new_cache(int B, int capacity, AttnPath path) const {
  return make_cache(cfg, B, capacity, path, cfg.num_hidden_layers);
}

Model::DecodeCache Model::new_mtp_cache(int B, int capacity, AttnPath path) const {
  if (mtp_.empty())
    throw InvalidArgument("speculative decoding drafts with the MTP module, and this model has none "
                          "(num_nextn_predict_layers = 0)");
  return make_cache(cfg, B, capacity, path, 1);  // depth 1 only: it drafts one token ahead
}

void Model::check_decode(const DecodeCache& cache, size_t layers, int n, const int32_t* tokens,
                         const char* what) const {
  const std::string w(what);
  if (cache.layers.size() != layers || cache.width != mla_cache_width(cfg, cache.path) ||
      (!cache.start.empty() && (int)cache.start.size() != cache.B))
    throw InvalidArgument(w + ": the cache was not made for this model (want " + std::to_string(layers) +
                          " layers of width " + std::to_string(mla_cache_width(cfg, cache.path)) +
                          "; use new_cache / new_mtp_cache)");
  for (const auto& l : cache.layers)
    if (l.size() != (size_t)cache.B * cache.capacity * cache.width)
      throw InvalidArgument(w + ": a cache layer does not hold B x capacity x width floats");
  for (int s : cache.start)
    if (s < 0 || s > cache.T) throw InvalidArgument(w + ": a row starts at slot " + std::to_string(s) +
                                                    ", outside the filled slots [0, " + std::to_string(cache.T) + "]");
  if (cache.T < 0 || cache.T > cache.capacity)
    throw InvalidArgument(w + ": cache.T (" + std::to_string(cache.T) + ") is outside [0, capacity = " +
                          std::to_string(cache.capacity) + "]");
  if (!tokens) return;  // prefill: the layout only
  if (n < 1) throw InvalidArgument(w + ": need at least one token per row, got " + std::to_string(n));
  if (cache.T + n > cache.capacity)
    throw InvalidArgument(w + ": decode cache is full (" + std::to_string(cache.T) + " of " +
                          std::to_string(cache.capacity) + " tokens, " + std::to_string(n) + " more asked)");
  for (size_t i = 0; i < (size_t)cache.B * n; i++)
    if (tokens[i] < 0 || tokens[i] >= cfg.vocab_size)
      throw InvalidArgument(w + ": token " + std::to_string(tokens[i]) + " is outside the vocabulary [0, " +
                            std::to_string(cfg.vocab_size) + ")");
}

void Model::decode_block(const BlockWeights& w, BlockActs& a, float* x, const MlaCacheView& cv, int B, int n) {
  const int N = B * n, d = cfg.hidden_size;
  const float eps = (float)cfg.rms_norm_eps;
  ensure(a.dec_ln1, (size_t)N * d); ensure(a.rstd1, N); ensure(a.attn_out, (size_t)N * d);
  ensure(a.ln2, (size_t)N * d); ensure(a.rstd2, N); ensure(a.ffn_out, (size_t)N * d);
  ops_.rmsnorm_forward(a.dec_ln1.data(), a.rstd1.data(), x, params.w(w.in_norm), N, d, eps);
  mla_decode(ops_, cfg, params, w.attn, a.mla, a.attn_out.data(), a.dec_ln1.data(), cv, B, n);
  ops_.axpy(x, a.attn_out.data(), 1.0f, (size_t)N * d);
  ops_.rmsnorm_forward(a.ln2.data(), a.rstd2.data(), x, params.w(w.post_norm), N, d, eps);
  if (w.moe)
    moe_forward(ops_, cfg, params, w.moe_w, a.moe, a.ffn_out.data(), a.ln2.data(), B, n);
  else
    swiglu_ffn_forward(ops_, params, w.dense, a.dense, a.ffn_out.data(), a.ln2.data(), N, d, false);
  ops_.axpy(x, a.ffn_out.data(), 1.0f, (size_t)N * d);
}

void Model::prefill(DecodeCache& cache, int row0, int rows, const int32_t* tokens, int T, std::vector<float>& logits_out,
                    std::vector<float>* hidden) {
  const ModelConfig& c = cfg;
  const int L = c.num_hidden_layers, d = c.hidden_size, H = c.num_attention_heads;
  const int kw = H * c.qk_head_dim(), vw = H * c.v_head_dim;
  if (row0 < 0 || rows < 1 || row0 + rows > cache.B)
    throw InvalidArgument("prefill: rows [" + std::to_string(row0) + ", " + std::to_string(row0 + rows) +
                          ") are not inside the cache's " + std::to_string(cache.B) + " rows");
  if (T < 1 || T > cache.T)
    throw InvalidArgument("prefill: a prompt of " + std::to_string(T) + " tokens must fit the cache's " +
                          std::to_string(cache.T) + " filled slots (set cache.T to the longest prompt first)");
  check_decode(cache, L, 0, nullptr, "prefill");
  // one forward pass through the cache's path leaves every layer's cache in its activations
  logits(tokens, 1, T, cache.path, logits_out);
  if (hidden) hidden->assign(xs_[L].begin(), xs_[L].begin() + (size_t)T * d);
  const int s0 = cache.T - T, W = cache.width;
  for (int l = 0; l < L; l++) {
    const MlaActs& a = blocks_acts_[l].mla;
    for (int r = row0; r < row0 + rows; r++) {
      float* dst = cache.layers[l].data() + ((size_t)r * cache.capacity + s0) * W;
      if (cache.path == AttnPath::Absorbed) {
        ops_.copy2d(dst, W, a.k.data(), W, T, W, false);  // [T, dc + dr]
      } else {  // k [T, H, dqk] and v [T, H, dv] side by side in each slot
        ops_.copy2d(dst, W, a.k.data(), kw, T, kw, false);
        ops_.copy2d(dst + kw, W, a.v.data(), vw, T, vw, false);
      }
    }
  }
  if (cache.start.empty()) cache.start.assign(cache.B, 0);
  for (int r = row0; r < row0 + rows; r++) cache.start[r] = s0;
}

void Model::decode(DecodeCache& cache, const int32_t* tokens, int n, std::vector<float>& logits_out,
                   std::vector<float>* hidden) {
  const ModelConfig& c = cfg;
  const int L = c.num_hidden_layers, N = cache.B * n, d = c.hidden_size, V = c.vocab_size;
  check_decode(cache, L, n, tokens, "decode");
  const KeepExpertLoads keep(blocks_acts_);
  Buf x((size_t)N * d);  // [B·n, d] the residual stream
  ops_.gather_rows(x.data(), params.w(embed_), tokens, nullptr, N, d);
  for (int l = 0; l < L; l++) decode_block(blocks_[l], blocks_acts_[l], x.data(), view(cache, l), cache.B, n);
  cache.T += n;
  if (hidden) hidden->assign(x.begin(), x.end());
  ensure(hn_, (size_t)N * d); ensure(hn_rstd_, N);
  logits_out.resize((size_t)N * V);
  ops_.rmsnorm_forward(hn_.data(), hn_rstd_.data(), x.data(), params.w(norm_), N, d, (float)c.rms_norm_eps);
  linear_fwd(ops_, logits_out.data(), hn_.data(), params.w(head_), N, d, V);
}

void Model::decode_step(DecodeCache& cache, const int32_t* tokens, std::vector<float>& logits_out) {
  decode(cache, tokens, 1, logits_out);
}

void Model::mtp_decode(DecodeCache& cache, const float* h, const int32_t* next, int n, std::vector<float>& logits_out,
                       bool last_only, std::vector<float>* hidden) {
  const ModelConfig& c = cfg;
  if (mtp_.empty())
    throw InvalidArgument("mtp_decode: this model has no MTP module (num_nextn_predict_layers = 0)");
  check_decode(cache, 1, n, next, "mtp_decode");
  const int N = cache.B * n, d = c.hidden_size, V = c.vocab_size;
  const float eps = (float)c.rms_norm_eps;
  const Mtp& m = mtp_[0];
  MtpActs& a = mtp_acts_[0];
  const KeepMoeLoad keep(a.block.moe);
  // as in training: x = eh_proj([RMSNorm(emb(t_{i+1})) ; RMSNorm(h_i)]), embedding first
  Buf emb((size_t)N * d), en((size_t)N * d), hn((size_t)N * d), x((size_t)N * d), rstd(N);
  ops_.gather_rows(emb.data(), params.w(embed_), next, nullptr, N, d);
  ops_.rmsnorm_forward(en.data(), rstd.data(), emb.data(), params.w(m.enorm), N, d, eps);
  ops_.rmsnorm_forward(hn.data(), rstd.data(), h, params.w(m.hnorm), N, d, eps);
  linear_fwd(ops_, x.data(), en.data(), params.w(m.eh_proj), N, d, d, 0.0f, 0, 2 * d);
  linear_fwd(ops_, x.data(), hn.data(), params.w(m.eh_proj) + d, N, d, d, 1.0f, 0, 2 * d);
  int rows = N;  // rows that go through the whole block and the head
  if (last_only && n > 1) {
    // positions 0 .. n-2 of every row: cache entries only, from input_layernorm(x)
    const int B = cache.B, early = n - 1;
    Buf xe((size_t)B * early * d), xl((size_t)B * d);
    for (int b = 0; b < B; b++) {
      std::copy_n(x.data() + (size_t)b * n * d, (size_t)early * d, xe.data() + (size_t)b * early * d);
      std::copy_n(x.data() + ((size_t)b * n + early) * d, d, xl.data() + (size_t)b * d);
    }
    // hn and rstd (done with above) hold input_layernorm of the early positions
    ops_.rmsnorm_forward(hn.data(), rstd.data(), xe.data(), params.w(m.block.in_norm), B * early, d, eps);
    mla_cache_write(ops_, c, params, m.block.attn, a.block.mla, hn.data(), view(cache, 0), B, early);
    cache.T += early;
    decode_block(m.block, a.block, xl.data(), view(cache, 0), B, 1);
    cache.T += 1;
    x.swap(xl);
    rows = B;
  } else {
    decode_block(m.block, a.block, x.data(), view(cache, 0), cache.B, n);
    cache.T += n;
  }
  if (hidden) hidden->assign(x.begin(), x.begin() + (size_t)rows * d);
  // the shared head behind the MTP module's own norm
  logits_out.resize((size_t)rows * V);
  ops_.rmsnorm_forward(hn.data(), rstd.data(), x.data(), params.w(m.head_norm), rows, d, eps);
  linear_fwd(ops_, logits_out.data(), hn.data(), params.w(head_), rows, d, V);
}

void Model::set_precision(kernels::Precision p, bool pow2_scales) {
  if (p == kernels::Precision::FP32) prec_.reset();
  else prec_ = std::make_unique<kernels::PrecisionOps>(ops_, p, pow2_scales);
}

void Model::set_precision(const std::string& name, bool pow2_scales) {
  if (name == "fp8") set_precision(kernels::Precision::FP8, pow2_scales);
  else if (name == "bf16") set_precision(kernels::Precision::BF16, pow2_scales);
  else if (name == "fp32") set_precision(kernels::Precision::FP32, pow2_scales);
  else throw ConfigError("train.precision must be \"fp32\", \"bf16\" or \"fp8\", not \"" + name + "\"", "train.precision");
}

kernels::Precision Model::precision() const { return prec_ ? prec_->precision() : kernels::Precision::FP32; }

std::pair<double, double> Model::take_cache_bytes() {
  return prec_ ? prec_->take_cache_bytes() : std::pair<double, double>{0, 0};
}

std::vector<kernels::Fp8TensorStats> Model::take_fp8_stats() {
  return prec_ ? prec_->take_stats() : std::vector<kernels::Fp8TensorStats>{};
}

std::vector<std::vector<int64_t>> Model::expert_load() const {
  std::vector<std::vector<int64_t>> out;
  for (size_t l = 0; l < blocks_.size(); l++)
    if (blocks_[l].moe) out.push_back(blocks_acts_[l].moe.load);
  for (size_t k = 0; k < mtp_.size(); k++)
    if (mtp_[k].block.moe) out.push_back(mtp_acts_[k].block.moe.load);
  return out;
}

std::vector<Model::MoeLayerState> Model::moe_state() const {
  std::vector<MoeLayerState> out;
  auto add = [&](int layer, const BlockWeights& w, const MoeActs& a) {
    if (!w.moe) return;
    const float* b = params.w(w.moe_w.bias);
    out.push_back({layer, a.load.empty() ? std::vector<int64_t>(cfg.n_routed_experts, 0) : a.load,
                   std::vector<float>(b, b + cfg.n_routed_experts)});
  };
  for (size_t l = 0; l < blocks_.size(); l++) add((int)l, blocks_[l], blocks_acts_[l].moe);
  for (size_t k = 0; k < mtp_.size(); k++) add((int)(blocks_.size() + k), mtp_[k].block, mtp_acts_[k].block.moe);
  return out;
}

void Model::take_expert_load(Model& other) {
  auto add = [&](MoeActs& to, MoeActs& from) {
    if (from.load.empty()) return;
    if (to.load.empty()) to.load.assign(cfg.n_routed_experts, 0);
    for (size_t e = 0; e < to.load.size(); e++) to.load[e] += from.load[e];
    from.load.assign(cfg.n_routed_experts, 0);
  };
  for (size_t l = 0; l < blocks_.size(); l++) add(blocks_acts_[l].moe, other.blocks_acts_[l].moe);
  for (size_t k = 0; k < mtp_.size(); k++) add(mtp_acts_[k].block.moe, other.mtp_acts_[k].block.moe);
}

void Model::reset_expert_load() {
  for (size_t l = 0; l < blocks_.size(); l++) blocks_acts_[l].moe.load.assign(cfg.n_routed_experts, 0);
  for (size_t k = 0; k < mtp_.size(); k++) mtp_acts_[k].block.moe.load.assign(cfg.n_routed_experts, 0);
}

void Model::update_router_bias() {
  auto update = [&](const BlockWeights& w, MoeActs& a) {
    if (!w.moe || a.load.empty()) return;
    const int E = cfg.n_routed_experts;
    double mean = 0.0;
    for (int64_t v : a.load) mean += (double)v / E;
    float* b = params.w(w.moe_w.bias);
    for (int e = 0; e < E; e++) {
      const double diff = mean - (double)a.load[e];
      b[e] += (float)(cfg.bias_update_speed * (diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0));
    }
    a.load.assign(E, 0);
  };
  for (size_t l = 0; l < blocks_.size(); l++) update(blocks_[l], blocks_acts_[l].moe);
  for (size_t k = 0; k < mtp_.size(); k++) update(mtp_[k].block, mtp_acts_[k].block.moe);
}

}  // namespace aha
