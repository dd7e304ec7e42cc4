// Multi-head Latent Attention (DeepSeek-V2/V3): queries through a low-rank bottleneck,
// keys and values from one compressed latent c_kv per token, plus one RoPE key k_pe
// shared by all heads. Training uses the naive path (expand K and V per head); the
// absorbed path folds W_UK into the query and W_UV after attention, so the cache holds
// only kv_norm(c_kv) and k_pe: dc + dr values per token per layer. Decoding keeps either
// cache: the latent one (absorbed) or the expanded per-head K and V (naive, MHA-sized).
#include <cmath>
#include <exception>

#include "engine/layers.h"
#include "engine/linear.h"

namespace aha {

void mla_register(Params& p, const ModelConfig& c, const std::string& pre, MlaWeights& w) {
  const int d = c.hidden_size, H = c.num_attention_heads, dqk = c.qk_head_dim();
  if (c.q_lora_rank > 0) {
    w.q_a = p.add(pre + "q_a_proj.weight", {c.q_lora_rank, d});
    w.q_a_norm = p.add(pre + "q_a_layernorm.weight", {c.q_lora_rank}, false);
    w.q_b = p.add(pre + "q_b_proj.weight", {(int64_t)H * dqk, c.q_lora_rank});
  } else {
    w.q = p.add(pre + "q_proj.weight", {(int64_t)H * dqk, d});
  }
  w.kv_a = p.add(pre + "kv_a_proj_with_mqa.weight", {c.kv_lora_rank + c.qk_rope_head_dim, d});
  w.kv_a_norm = p.add(pre + "kv_a_layernorm.weight", {c.kv_lora_rank}, false);
  w.kv_b = p.add(pre + "kv_b_proj.weight",
                 {(int64_t)H * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank});
  w.o = p.add(pre + "o_proj.weight", {d, (int64_t)H * c.v_head_dim});
}

void mla_forward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w,
                 MlaActs& a, float* out, const float* x, const TokenRows& rows, int B, int T,
                 AttnPath path) {
  const int* pos = rows.pos;
  const int N = B * T, d = c.hidden_size, H = c.num_attention_heads;
  const int dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim;
  const int dqk = dn + dr, dc = c.kv_lora_rank, qr = c.q_lora_rank;
  const float eps = (float)c.rms_norm_eps, theta = (float)c.rope_theta;
  const float scale = 1.0f / std::sqrt((float)dqk);

  // queries: q [N, H, dqk] = q_b(q_norm(q_a(x)))  or  q_proj(x)
  ensure(a.q, (size_t)N * H * dqk);
  if (qr > 0) {
    ensure(a.qa, (size_t)N * qr); ensure(a.qa_rstd, N);
    linear_fwd(ops, a.qa.data(), x, p.w(w.q_a), N, d, qr);                     // [N,qr]
    float* qa_n = ops.stash_begin(a.qa_n, N, qr);                               // [N,qr]
    ops.rmsnorm_forward(qa_n, a.qa_rstd.data(), a.qa.data(), p.w(w.q_a_norm), N, qr, eps);
    linear_fwd(ops, a.q.data(), qa_n, p.w(w.q_b), N, qr, H * dqk);              // [N,H·dqk]
    ops.stash_seal(a.qa_n);
  } else {
    linear_fwd(ops, a.q.data(), x, p.w(w.q), N, d, H * dqk);
  }
  // RoPE on the last dr of every head; rows are (token, head), H rows per position.
  ops.rope(a.q.data(), dqk, dn, dr, pos, H, N * H, theta, false);

  // latent: ckv [N,dc] and kpe [N,dr] are the two row blocks of kv_a_proj_with_mqa
  ensure(a.ckv, (size_t)N * dc); ensure(a.ckv_rstd, N);
  ensure(a.kpe, (size_t)N * dr);
  float* ckv_n = ops.stash_begin(a.ckv_n, N, dc);                               // [N,dc]
  linear_fwd(ops, a.ckv.data(), x, p.w(w.kv_a), N, d, dc);
  linear_fwd(ops, a.kpe.data(), x, p.w(w.kv_a) + (size_t)dc * d, N, d, dr);
  ops.rmsnorm_forward(ckv_n, a.ckv_rstd.data(), a.ckv.data(), p.w(w.kv_a_norm), N, dc, eps);
  ops.rope(a.kpe.data(), dr, 0, dr, pos, 1, N, theta, false);

  ensure(a.o, (size_t)N * H * dv); ensure(a.lse, (size_t)B * H * T);
  if (path == AttnPath::Naive) {
    // kv [N, H, dn+dv] = kv_b(ckv_n); per head k = [k_nope | kpe], v
    ensure(a.kv, (size_t)N * H * (dn + dv));
    ensure(a.k, (size_t)N * H * dqk); ensure(a.v, (size_t)N * H * dv);
    linear_fwd(ops, a.kv.data(), ckv_n, p.w(w.kv_b), N, dc, H * (dn + dv));
    ops.mla_expand_kv(a.k.data(), a.v.data(), a.kv.data(), a.kpe.data(), N, H, dn, dr, dv);
    kernels::AttnShape s{B, T, T, H, H, dqk, dv, H * dqk, H * dqk, H * dv, H * dv, scale, rows.gap_begin, rows.gap_end};
    a.probs_kept = a.keep_probs ? ops.attention_probs_floats(s) : 0;
    if (a.probs_kept) {  // kept for the backward
      ensure(a.probs, a.probs_kept);
      s.probs = a.probs.data();
    }
    ops.attention_forward(a.o.data(), a.lse.data(), a.q.data(), a.k.data(), a.v.data(), s);
  } else {
    // Absorbed: the cache is [N, dc + dr] = [kv_norm(c_kv) | rope(k_pe)], one "head" for all.
    a.k.assign((size_t)N * (dc + dr), 0.0f);  // exactly the cache, nothing else
    ops.copy2d(a.k.data(), dc + dr, ckv_n, dc, N, dc, false);
    ops.copy2d(a.k.data() + dc, dc + dr, a.kpe.data(), dr, N, dr, false);
    // q_abs [N, H, dc+dr] = [q_nope_h · W_UK_h | q_pe_h];  W_UK_h = kv_b rows h(dn+dv) .. +dn: [dn, dc]
    Buf q_abs((size_t)N * H * (dc + dr)), o_lat((size_t)N * H * dc);
    const float* kvb = p.w(w.kv_b);
    for (int h = 0; h < H; h++) {
      ops.gemm(false, false, N, dc, dn, 1.0f, a.q.data() + h * dqk, H * dqk,
               kvb + (size_t)h * (dn + dv) * dc, dc, 0.0f, q_abs.data() + h * (dc + dr), H * (dc + dr));
      ops.copy2d(q_abs.data() + h * (dc + dr) + dc, H * (dc + dr), a.q.data() + h * dqk + dn, H * dqk, N, dr, false);
    }
    // MQA over the latent: keys = the whole cache row, values = its first dc entries
    kernels::AttnShape s{B, T, T, H, 1, dc + dr, dc, H * (dc + dr), dc + dr, dc + dr, H * dc, scale,
                         rows.gap_begin, rows.gap_end};
    ops.attention_forward(o_lat.data(), a.lse.data(), q_abs.data(), a.k.data(), a.k.data(), s);
    // o_h [N, dv] = o_lat_h · W_UV_hᵀ;  W_UV_h = kv_b rows h(dn+dv)+dn .. +dv: [dv, dc]
    for (int h = 0; h < H; h++)
      ops.gemm(false, true, N, dv, dc, 1.0f, o_lat.data() + h * dc, H * dc,
               kvb + ((size_t)h * (dn + dv) + dn) * dc, dc, 0.0f, a.o.data() + h * dv, H * dv);
  }
  ops.stash_seal(a.ckv_n);
  linear_fwd(ops, out, a.o.data(), p.w(w.o), N, H * dv, d);  // [N,d]
}

int mla_cache_width(const ModelConfig& c, AttnPath path) {
  return path == AttnPath::Absorbed ? c.kv_lora_rank + c.qk_rope_head_dim
                                    : c.num_attention_heads * (c.qk_head_dim() + c.v_head_dim);
}

namespace {
// f(b) for every row b < B: one OpenMP thread per row when there are several (each row's
// attention call then runs on its own thread — rows have different numbers of cached
// slots, so they are separate calls, and splitting one small call across threads costs
// more than it gains). An exception inside a parallel region would terminate the
// process: the first one is carried out and rethrown.
template <class F>
void for_each_row(int B, F&& f) {
  // One row: no enclosing region at all. (An inactive `if(false)` region would make the
  // call's own parallel loop a *nested* team, which libgomp builds afresh every time —
  // that cost 9 ms per decoding step at batch 1.)
  if (B == 1) return f(0);
  std::exception_ptr err;
#pragma omp parallel for schedule(dynamic)
  for (int b = 0; b < B; b++) {
    try {
      f(b);
    } catch (...) {
#pragma omp critical(aha_for_each_row)
      if (!err) err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
}
}  // namespace

void mla_cache_write(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w, MlaActs& a,
                     const float* x, const MlaCacheView& cv, int B, int n) {
  const int N = B * n, d = c.hidden_size, H = c.num_attention_heads;
  const int dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim;
  const int dqk = dn + dr, dc = c.kv_lora_rank;
  const int W = mla_cache_width(c, cv.path);
  const float eps = (float)c.rms_norm_eps, theta = (float)c.rope_theta;
  auto slot = [&](int b) { return cv.data + ((size_t)b * cv.capacity + cv.T) * W; };
  std::vector<int> pos(N);
  for (int b = 0; b < B; b++)
    for (int j = 0; j < n; j++) pos[(size_t)b * n + j] = cv.T + j - (cv.start ? cv.start[b] : 0);
  // the new tokens' latent [N, dc] and rope key [N, dr]
  ensure(a.ckv, (size_t)N * dc); ensure(a.dec_ckv_n, (size_t)N * dc); ensure(a.ckv_rstd, N); ensure(a.kpe, (size_t)N * dr);
  linear_fwd(ops, a.ckv.data(), x, p.w(w.kv_a), N, d, dc);
  linear_fwd(ops, a.kpe.data(), x, p.w(w.kv_a) + (size_t)dc * d, N, d, dr);
  ops.rmsnorm_forward(a.dec_ckv_n.data(), a.ckv_rstd.data(), a.ckv.data(), p.w(w.kv_a_norm), N, dc, eps);
  ops.rope(a.kpe.data(), dr, 0, dr, pos.data(), 1, N, theta, false);
  if (cv.path == AttnPath::Naive) {
    // Expand the new tokens' per-head keys and values once, as an MHA model would, and
    // cache them: kv [N, H, dn+dv] → k [N, H, dqk], v [N, H, dv]. Local buffers, not a.k
    // and a.v, which hold the last full forward's cache (the prefill reads them).
    ensure(a.kv, (size_t)N * H * (dn + dv));
    linear_fwd(ops, a.kv.data(), a.dec_ckv_n.data(), p.w(w.kv_b), N, dc, H * (dn + dv));
    Buf k((size_t)N * H * dqk), v((size_t)N * H * dv);
    ops.mla_expand_kv(k.data(), v.data(), a.kv.data(), a.kpe.data(), N, H, dn, dr, dv);
    for (int b = 0; b < B; b++) {
      ops.copy2d(slot(b), W, k.data() + (size_t)b * n * H * dqk, H * dqk, n, H * dqk, false);
      ops.copy2d(slot(b) + H * dqk, W, v.data() + (size_t)b * n * H * dv, H * dv, n, H * dv, false);
    }
  } else {
    for (int b = 0; b < B; b++) {
      ops.copy2d(slot(b), W, a.dec_ckv_n.data() + (size_t)b * n * dc, dc, n, dc, false);
      ops.copy2d(slot(b) + dc, W, a.kpe.data() + (size_t)b * n * dr, dr, n, dr, false);
    }
  }
}

void mla_decode(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w, MlaActs& a,
                float* out, const float* x, const MlaCacheView& cv, int B, int n) {
  const int N = B * n, d = c.hidden_size, H = c.num_attention_heads;
  const int dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim;
  const int dqk = dn + dr, dc = c.kv_lora_rank, qr = c.q_lora_rank;
  const int W = mla_cache_width(c, cv.path);
  const float eps = (float)c.rms_norm_eps, theta = (float)c.rope_theta;
  const float scale = 1.0f / std::sqrt((float)dqk);
  auto start = [&](int b) { return cv.start ? cv.start[b] : 0; };
  // the new token (b, j) sits at position T + j − start[b]
  std::vector<int> pos(N);
  for (int b = 0; b < B; b++)
    for (int j = 0; j < n; j++) pos[(size_t)b * n + j] = cv.T + j - start(b);

  // queries [N, H, dqk]
  ensure(a.q, (size_t)N * H * dqk);
  if (qr > 0) {
    ensure(a.qa, (size_t)N * qr); ensure(a.dec_qa_n, (size_t)N * qr); ensure(a.qa_rstd, N);
    linear_fwd(ops, a.qa.data(), x, p.w(w.q_a), N, d, qr);
    ops.rmsnorm_forward(a.dec_qa_n.data(), a.qa_rstd.data(), a.qa.data(), p.w(w.q_a_norm), N, qr, eps);
    linear_fwd(ops, a.q.data(), a.dec_qa_n.data(), p.w(w.q_b), N, qr, H * dqk);
  } else {
    linear_fwd(ops, a.q.data(), x, p.w(w.q), N, d, H * dqk);
  }
  ops.rope(a.q.data(), dqk, dn, dr, pos.data(), H, N * H, theta, false);
  // the new tokens' cache entries, at slots T .. T+n-1
  mla_cache_write(ops, c, p, w, a, x, cv, B, n);

  // One attention call per row: rows see different numbers of slots (start[b] differs).
  ensure(a.o, (size_t)N * H * dv);
  Buf lse((size_t)N * H);
  const float* kvb = p.w(w.kv_b);
  if (cv.path == AttnPath::Naive) {
    // plain MHA over the row's slots: keys and values interleaved in each slot
    for_each_row(B, [&](int b) {
      const float* kc = cv.data + ((size_t)b * cv.capacity + start(b)) * W;
      kernels::AttnShape s{1, n, cv.T + n - start(b), H, H, dqk, dv, H * dqk, W, W, H * dv, scale};
      ops.attention_forward(a.o.data() + (size_t)b * n * H * dv, lse.data() + (size_t)b * H * n,
                            a.q.data() + (size_t)b * n * H * dqk, kc, kc + H * dqk, s);
    });
  } else {
    // absorbed attention: q_abs [N, H, W] = [q_nope · W_UK | q_pe]; MQA over the latent
    // slots (keys: the whole slot, values: its first dc entries)
    Buf q_abs((size_t)N * H * W), o_lat((size_t)N * H * dc);
    for (int h = 0; h < H; h++) {
      ops.gemm(false, false, N, dc, dn, 1.0f, a.q.data() + h * dqk, H * dqk, kvb + (size_t)h * (dn + dv) * dc, dc,
               0.0f, q_abs.data() + h * W, H * W);
      ops.copy2d(q_abs.data() + h * W + dc, H * W, a.q.data() + h * dqk + dn, H * dqk, N, dr, false);
    }
    for_each_row(B, [&](int b) {
      const float* kc = cv.data + ((size_t)b * cv.capacity + start(b)) * W;
      kernels::AttnShape s{1, n, cv.T + n - start(b), H, 1, W, dc, H * W, W, W, H * dc, scale};
      ops.attention_forward(o_lat.data() + (size_t)b * n * H * dc, lse.data() + (size_t)b * H * n,
                            q_abs.data() + (size_t)b * n * H * W, kc, kc, s);
    });
    // o_h [N, dv] = o_lat_h · W_UV_hᵀ
    for (int h = 0; h < H; h++)
      ops.gemm(false, true, N, dv, dc, 1.0f, o_lat.data() + h * dc, H * dc, kvb + ((size_t)h * (dn + dv) + dn) * dc,
               dc, 0.0f, a.o.data() + h * dv, H * dv);
  }
  linear_fwd(ops, out, a.o.data(), p.w(w.o), N, H * dv, d);
}

void mla_backward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w,
                  MlaActs& a, float* dx, const float* dout, const float* x, const TokenRows& rows,
                  int B, int T) {
  const int* pos = rows.pos;
  const int N = B * T, d = c.hidden_size, H = c.num_attention_heads;
  const int dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim;
  const int dqk = dn + dr, dc = c.kv_lora_rank, qr = c.q_lora_rank;
  const float theta = (float)c.rope_theta;
  const float scale = 1.0f / std::sqrt((float)dqk);

  // o_proj: dO [N, H·dv]
  ensure(a.dv, (size_t)N * H * dv);
  Buf& dO = a.dx;  // reuse as scratch for dO, then for dx parts
  ensure(dO, (size_t)N * std::max(H * dv, d));
  linear_bwd_dw(ops, p.g(w.o), dout, a.o.data(), N, H * dv, d);
  linear_bwd_dx(ops, dO.data(), dout, p.w(w.o), N, H * dv, d);

  // attention core
  ensure(a.dq, (size_t)N * H * dqk); ensure(a.dk, (size_t)N * H * dqk);
  kernels::AttnShape s{B, T, T, H, H, dqk, dv, H * dqk, H * dqk, H * dv, H * dv, scale, rows.gap_begin, rows.gap_end};
  if (a.probs_kept > 0 && a.probs_kept == ops.attention_probs_floats(s)) s.probs = a.probs.data();  // the forward's
  ops.attention_backward(a.dq.data(), a.dk.data(), a.dv.data(), dO.data(), a.o.data(), a.lse.data(),
                         a.q.data(), a.k.data(), a.v.data(), s);

  // un-split K and V: dkv [N, H, dn+dv]; dkpe [N,dr] = Σ_h dK[:, h, dn:]
  ensure(a.dkv, (size_t)N * H * (dn + dv)); ensure(a.dkpe, (size_t)N * dr);
  ops.mla_expand_kv_backward(a.dkv.data(), a.dkpe.data(), a.dk.data(), a.dv.data(), N, H, dn, dr, dv);
  // RoPE is a rotation: its backward rotates the gradient back.
  ops.rope(a.dkpe.data(), dr, 0, dr, pos, 1, N, theta, true);
  ops.rope(a.dq.data(), dqk, dn, dr, pos, H, N * H, theta, true);

  // kv_b, kv_norm, kv_a
  ensure(a.dckv_n, (size_t)N * dc); ensure(a.dckv, (size_t)N * dc);
  linear_bwd_dw(ops, p.g(w.kv_b), a.dkv.data(), ops.stash_open(a.ckv_n), N, dc, H * (dn + dv));
  ops.stash_close(a.ckv_n);
  linear_bwd_dx(ops, a.dckv_n.data(), a.dkv.data(), p.w(w.kv_b), N, dc, H * (dn + dv));
  ops.rmsnorm_backward(a.dckv.data(), p.g(w.kv_a_norm), a.dckv_n.data(), a.ckv.data(),
                       p.w(w.kv_a_norm), a.ckv_rstd.data(), N, dc);
  linear_bwd_dw(ops, p.g(w.kv_a), a.dckv.data(), x, N, d, dc);
  linear_bwd_dw(ops, p.g(w.kv_a) + (size_t)dc * d, a.dkpe.data(), x, N, d, dr);
  linear_bwd_dx(ops, dx, a.dckv.data(), p.w(w.kv_a), N, d, dc);
  linear_bwd_dx(ops, dx, a.dkpe.data(), p.w(w.kv_a) + (size_t)dc * d, N, d, dr, 1.0f);

  // queries
  if (qr > 0) {
    ensure(a.dqa_n, (size_t)N * qr); ensure(a.dqa, (size_t)N * qr);
    linear_bwd_dw(ops, p.g(w.q_b), a.dq.data(), ops.stash_open(a.qa_n), N, qr, H * dqk);
    ops.stash_close(a.qa_n);
    linear_bwd_dx(ops, a.dqa_n.data(), a.dq.data(), p.w(w.q_b), N, qr, H * dqk);
    ops.rmsnorm_backward(a.dqa.data(), p.g(w.q_a_norm), a.dqa_n.data(), a.qa.data(),
                         p.w(w.q_a_norm), a.qa_rstd.data(), N, qr);
    linear_bwd_dw(ops, p.g(w.q_a), a.dqa.data(), x, N, d, qr);
    linear_bwd_dx(ops, dx, a.dqa.data(), p.w(w.q_a), N, d, qr, 1.0f);
  } else {
    linear_bwd_dw(ops, p.g(w.q), a.dq.data(), x, N, d, H * dqk);
    linear_bwd_dx(ops, dx, a.dq.data(), p.w(w.q), N, d, H * dqk, 1.0f);
  }
}

}  // namespace aha
