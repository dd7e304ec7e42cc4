// The DeepSeek-V3-architecture model: embedding, pre-norm blocks (MLA + dense SwiGLU or
// DeepSeekMoE), final norm, untied head, and D Multi-Token-Prediction depths.
//
// Training: forward_backward() on a micro-batch accumulates gradients into params.grads.
// The loss is masked next-token cross-entropy + λ·mean_k MTP_k + α·balance, with a
// per-token mask so the same loop serves pretraining, SFT and GRPO.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/config.h"
#include "engine/layers.h"
#include "engine/params.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/precision_ops.h"

namespace aha {

// One micro-batch. targets[b,t] is the token to predict after inputs[b,t]; mask[b,t]
// weighs that prediction in the loss (0 = not scored: prompt tokens in SFT, padding).
struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> inputs;   // [B,T]
  std::vector<int32_t> targets;  // [B,T]
  std::vector<float> mask;       // [B,T]
  // Packed rows (engine/grpo_pack.h; token objectives only): each token's RoPE position
  // and the keys its attention skips, [gap_begin, gap_end). Empty: position = t, plain causal.
  std::vector<int32_t> positions, gap_begin, gap_end;  // [B,T] each, or empty
  bool packed() const { return !positions.empty(); }
};

// Entropy of softmax(logits[V]) in nats: the policy entropy GRPO reports, per position of
// a forward (Model::forward_backward_objective) or per sampled token (Completion::entropy).
double logits_entropy(const float* logits, int V);

struct LossParts {
  double total = 0.0;            // lm + λ·mean(mtp) + balance
  double lm = 0.0;               // masked mean next-token cross-entropy
  std::vector<double> mtp;       // per depth, masked mean CE
  double balance = 0.0;          // α-weighted sequence-wise balance loss, summed over MoE layers
  double scored_tokens = 0.0;    // Σ mask
};

// The denominators of a whole batch's loss, for a shard of its rows (data parallelism,
// engine/data_parallel.h): a shard normalised by them returns and back-propagates its
// additive part of the whole batch's loss, so the shards' sums equal one pass over all rows.
struct LossNorm {
  double lm = 0.0;               // Σ mask over the batch
  std::vector<double> mtp;       // per MTP depth, Σ of that depth's mask
  double rows_share = 1.0;       // shard rows / batch rows (the balance loss is a mean over rows)
};

class Model {
 public:
  Model(const ModelConfig& cfg, kernels::Ops& ops);

  // Normal(0, initializer_range) weights, norms 1, biases 0; deterministic for a seed.
  void init_weights(uint64_t seed);
  // Forward and backward; gradients are ADDED to params.grads, scaled by loss_scale
  // (1/grad_accum for accumulation). Throws NumericError on a non-finite loss.
  // norm: normalise by a whole batch's denominators instead of this batch's (a shard).
  LossParts forward_backward(const Batch& batch, float loss_scale = 1.0f, const LossNorm* norm = nullptr);
  // The denominators of `batch` as a whole (see LossNorm).
  LossNorm loss_norm(const Batch& batch) const;
  // Forward only.
  LossParts forward_loss(const Batch& batch);

  // A per-token objective on the main head (GRPO's policy loss): called with
  // logp[n] = log π(targets[n] | inputs[..n]) for every position (0 where mask[n] = 0),
  // it returns the loss and writes dL/dlogp[n] into dlogp (pre-sized [B·T], zeroed).
  // The MTP depths are not run; the balance loss still is.
  using TokenObjective = std::function<double(const std::vector<float>& logp, std::vector<float>& dlogp)>;
  // Forward, objective, backward; gradients ADDED (scaled by loss_scale). LossParts.lm holds
  // the objective's value. entropy (if given) receives the main head's per-position
  // entropy [B·T] in nats (0 where mask[n] = 0).
  LossParts forward_backward_objective(const Batch& batch, const TokenObjective& objective,
                                       float loss_scale = 1.0f, std::vector<float>* entropy = nullptr);
  // Forward only, main head: logp[n] as above (and entropy); expert loads are not counted.
  void token_logprobs(const Batch& batch, std::vector<float>& logp, std::vector<float>* entropy = nullptr);
  // Main-head logits [B·T, V] for tokens [B,T] (no MTP), through either MLA path.
  void logits(const int32_t* tokens, int B, int T, AttnPath path, std::vector<float>& out);
  // The absorbed path's KV cache from the last logits() call with AttnPath::Absorbed:
  // layer l holds [B·T, kv_lora_rank + qk_rope_head_dim] values.
  const Buf& absorbed_cache(int layer) const { return blocks_acts_[layer].mla.k; }

  // Auxiliary-loss-free balancing, after each optimiser step: b_i += γ·sign(mean − load_i)
  // over the tokens routed since the last call (the whole batch); then resets the loads.
  void update_router_bias();
  // Forgets the loads counted since the last update (after evaluation forwards).
  void reset_expert_load();
  // Adds the loads `other` (a data-parallel replica) counted to this model's and resets them.
  void take_expert_load(Model& other);
  // Tokens routed to each expert of each MoE layer since the last update_router_bias().
  std::vector<std::vector<int64_t>> expert_load() const;
  // Per MoE layer (MTP blocks numbered after the main layers, as in the checkpoint): its
  // layer index, the tokens routed to each expert since the last bias update, the bias.
  struct MoeLayerState { int layer; std::vector<int64_t> load; std::vector<float> bias; };
  std::vector<MoeLayerState> moe_state() const;

  // ---- incremental decoding --------------------------------------------------------
  // A cache holds B rows of up to `capacity` slots (one per token) for every layer, in
  // one of MLA's two forms (mla_cache_width): the absorbed latent cache (kv_lora_rank +
  // qk_rope_head_dim values per token per layer) or the naive one (the expanded per-head
  // keys and values, heads · (qk_head_dim + v_head_dim), what an MHA model caches).
  // Rows are right-aligned: every row's next token goes to slot T, and row b holds its
  // position 0 in slot start[b], so prompts of different lengths decode together.
  struct DecodeCache {
    int B = 0, capacity = 0, T = 0;          // rows, slots per row, slots filled (all rows)
    AttnPath path = AttnPath::Absorbed;
    int width = 0;                           // floats per slot per layer
    std::vector<int> start;                  // [B] first slot of each row (empty = all 0)
    std::vector<std::vector<float>> layers;  // [layers][B, capacity, width]
  };
  DecodeCache new_cache(int B, int capacity, AttnPath path = AttnPath::Absorbed) const;
  // Runs one sequence tokens[T] through the model in a single forward pass (the cache's
  // path) and copies its cache into rows [row0, row0 + rows), right-aligned: its last
  // token lands in slot cache.T − 1 and those rows start at slot cache.T − T (so set
  // cache.T to the longest prompt first). logits receives [T, V]; hidden (if given) the
  // last block's output [T, d], the MTP module's input. InvalidArgument when T > cache.T.
  void prefill(DecodeCache& cache, int row0, int rows, const int32_t* tokens, int T, std::vector<float>& logits,
               std::vector<float>* hidden = nullptr);
  // Feeds n tokens per row (tokens[B, n]) at slots T .. T+n-1 and returns the next-token
  // logits [B, n, V]; hidden (if given) receives the last block's output [B, n, d].
  // cache.T advances by n; lowering cache.T afterwards discards the newest slots (they
  // are overwritten next), which is how a rejected speculative token is rolled back.
  // InvalidArgument when the cache has no room for n more tokens.
  void decode(DecodeCache& cache, const int32_t* tokens, int n, std::vector<float>& logits,
              std::vector<float>* hidden = nullptr);
  // decode() with one token per row (tokens[B]); logits [B, V].
  void decode_step(DecodeCache& cache, const int32_t* tokens, std::vector<float>& logits);

  // ---- MTP depth 1 as a draft model (speculative decoding) ----------------------------
  // Its cache holds the MTP block's MLA cache (one layer). Its entry at position i is
  // built from the main model's hidden state h_i and the embedding of token t_{i+1}.
  // InvalidArgument when the model has no MTP module (num_nextn_predict_layers = 0).
  DecodeCache new_mtp_cache(int B, int capacity, AttnPath path = AttnPath::Absorbed) const;
  // Feeds n positions per row: h[B, n, d] (the main model's hidden states at those
  // positions, from decode() or prefill()) and next[B, n] (the token that followed each);
  // returns the MTP head's logits [B, n, V]: at position i, the distribution of t_{i+2}.
  // last_only: logits [B, V] of each row's last position only — the others get their
  // cache entries and nothing else (no attention, FFN or head), which is all drafting
  // needs from them: a prompt of T tokens then costs about one MTP step, not T.
  // hidden (if given) receives the MTP block's output for the rows that have logits
  // ([B, n, d], or [B, d] with last_only): h^1 in V3's notation, the input a chained
  // draft feeds back in place of the main model's h (speculative decoding, k > 1).
  void mtp_decode(DecodeCache& cache, const float* h, const int32_t* next, int n, std::vector<float>& logits,
                  bool last_only = false, std::vector<float>* hidden = nullptr);

  void zero_grad();

  // The precision of the Linear layers' GEMMs in training (V3: FP8 with 1×128 / 128×128
  // scaling; kernels/cpu/precision_ops.h). FP32 by default.
  void set_precision(kernels::Precision p, bool pow2_scales = false);
  // The same from train.precision's name: "fp32" | "bf16" | "fp8".
  void set_precision(const std::string& name, bool pow2_scales);
  kernels::Precision precision() const;
  // Per-layer statistics of the FP8 quantisations since the last call (empty unless FP8).
  std::vector<kernels::Fp8TensorStats> take_fp8_stats();
  // Bytes of the Linear inputs the training forwards stashed for Wgrad since the last
  // call (kernels/cpu/stash.h), as FP32 and as held: BF16 or E4M3 codes + scales (0, 0 in
  // FP32, which keeps the floats).
  std::pair<double, double> take_cache_bytes();
  size_t params_total() const { return params.trainable_total(); }
  size_t params_active() const;            // per token: shared + top-K routed experts
  double flops_per_token(int T) const;     // training (forward + backward) FLOPs per token
  // Decoding cache per token over all layers, in bytes of `elem_bytes` elements:
  // MLA's absorbed cache (kv_lora_rank + qk_rope_head_dim per layer) or the cache an
  // MHA model with the same heads would keep (heads · (qk_head_dim + v_head_dim)).
  double kv_bytes_per_token(bool mla, int elem_bytes = 2) const;

  const ModelConfig cfg;
  Params params;

 private:
  struct Mtp {
    size_t enorm = 0, hnorm = 0, eh_proj = 0, head_norm = 0;
    BlockWeights block;
  };
  struct MtpActs {
    std::vector<int32_t> tok, tgt;       // [N] input token (i+k) and target per position
    Buf mask;                            // [N]
    Buf emb, en, en_rstd, hn, hn_rstd, hp, hout, sh, sh_rstd, logits, loss, dloss;
    Buf dh, dtmp, dhout, demb;
    BlockActs block;
  };

  // objective / logp / entropy: the token-objective path (no MTP), see above.
  LossParts run(const Batch& batch, float loss_scale, bool backward, const TokenObjective* objective = nullptr,
                std::vector<float>* logp = nullptr, std::vector<float>* entropy = nullptr,
                const LossNorm* norm = nullptr);
  void head_loss(const float* h, size_t norm_w, Buf& hn, Buf& rstd, Buf& logits, Buf& loss,
                 const int32_t* tgt, int N);
  // Decoding: one block on n new tokens per row, x[B·n, d] updated in place.
  void decode_block(const BlockWeights& w, BlockActs& a, float* x, const MlaCacheView& cv, int B, int n);
  // InvalidArgument unless `cache` is a well-formed cache of `layers` layers and (when
  // tokens is given) has room for n more tokens per row and tokens[B·n] are in the vocabulary.
  void check_decode(const DecodeCache& cache, size_t layers, int n, const int32_t* tokens, const char* what) const;

  kernels::Ops& ops_;
  // The Linear layers' backend: ops_ itself in FP32, a PrecisionOps over it in BF16 / FP8
  // (embedding, head, norms, router and attention core keep ops_ or high_precision()).
  std::unique_ptr<kernels::PrecisionOps> prec_;
  kernels::Ops& lin_ops() { return prec_ ? static_cast<kernels::Ops&>(*prec_) : ops_; }
  void lin_layer(int layer) { if (prec_) prec_->set_layer(layer); }
  size_t embed_ = 0, norm_ = 0, head_ = 0;
  std::vector<BlockWeights> blocks_;
  std::vector<Mtp> mtp_;
  // activations
  std::vector<Buf> xs_;                  // [L+1][N,d] block inputs; xs_[L] = last output
  std::vector<BlockActs> blocks_acts_;
  BlockActs bwd_scratch_;                // backward buffers lent to each block (swap_backward_scratch)
  BlockActs fwd_scratch_;                // forward-only intermediates lent likewise (swap_forward_scratch)
  Buf hn_, hn_rstd_, logits_, loss_, dloss_, dh_, dtmp_;
  std::vector<MtpActs> mtp_acts_;
  std::vector<int> pos_;
};

}  // namespace aha
