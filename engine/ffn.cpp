// Feed-forward layers: the SwiGLU MLP (dense layers and shared experts) and the
// DeepSeekMoE layer (shared experts + routed experts picked by the router).
#include <numeric>

#include "engine/error.h"
#include "engine/layers.h"
#include "engine/linear.h"

namespace aha {

void swiglu_register(Params& p, int d, int inter, const std::string& pre, SwigluWeights& w) {
  // gate and up are registered back to back: one [2I, d] operand for one GEMM.
  w.inter = inter;
  w.gate_up = p.add(pre + "gate_proj.weight", {inter, d});
  p.add(pre + "up_proj.weight", {inter, d});
  w.down = p.add(pre + "down_proj.weight", {d, inter});
}

void swiglu_ffn_forward(kernels::Ops& ops, Params& p, const SwigluWeights& w, SwigluActs& a,
                        float* out, const float* x, int N, int d, bool accumulate) {
  const int I = w.inter;
  ensure(a.gu, (size_t)N * 2 * I);
  linear_fwd(ops, a.gu.data(), x, p.w(w.gate_up), N, d, 2 * I);    // [N, 2I]
  float* h = ops.stash_begin(a.h, N, I);                            // [N, I]
  ops.swiglu_forward(h, a.gu.data(), N, I);
  linear_fwd(ops, out, h, p.w(w.down), N, I, d, accumulate ? 1.0f : 0.0f);  // [N,d]
  ops.stash_seal(a.h);
}

void swiglu_ffn_backward(kernels::Ops& ops, Params& p, const SwigluWeights& w, SwigluActs& a,
                         float* dx, const float* dout, const float* x, int N, int d,
                         bool accumulate) {
  const int I = w.inter;
  ensure(a.dh, (size_t)N * I); ensure(a.dgu, (size_t)N * 2 * I);
  linear_bwd_dw(ops, p.g(w.down), dout, ops.stash_open(a.h), N, I, d);
  ops.stash_close(a.h);
  linear_bwd_dx(ops, a.dh.data(), dout, p.w(w.down), N, I, d);
  ops.swiglu_backward(a.dgu.data(), a.dh.data(), a.gu.data(), N, I);
  linear_bwd_dw(ops, p.g(w.gate_up), a.dgu.data(), x, N, d, 2 * I);
  linear_bwd_dx(ops, dx, a.dgu.data(), p.w(w.gate_up), N, d, 2 * I, accumulate ? 1.0f : 0.0f);
}

void moe_register(Params& p, const ModelConfig& c, const std::string& pre, MoeWeights& w) {
  const int d = c.hidden_size, E = c.n_routed_experts;
  w.router = p.add(pre + "gate.weight", {E, d});
  w.bias = p.add(pre + "gate.e_score_correction_bias", {E}, false, false);
  w.experts.resize(E);
  for (int e = 0; e < E; e++)
    swiglu_register(p, d, c.moe_intermediate_size, pre + "experts." + std::to_string(e) + ".",
                    w.experts[e]);
  if (c.n_shared_experts > 0)
    swiglu_register(p, d, c.n_shared_experts * c.moe_intermediate_size, pre + "shared_experts.",
                    w.shared);
}

void moe_forward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MoeWeights& w,
                 MoeActs& a, float* out, const float* x, int B, int T) {
  const int N = B * T, d = c.hidden_size, E = c.n_routed_experts, K = c.num_experts_per_tok;
  const int NK = N * K;
  // router logits in FP32: [N,E] = x · W_gᵀ
  ensure(a.r.logits, (size_t)N * E);
  // (gating stays in high precision under an FP8 or BF16 backend, as in V3)
  linear_fwd(ops.high_precision(), a.r.logits.data(), x, p.w(w.router), N, d, E);
  route_forward(c, a.r, p.w(w.bias), B, T);

  // dispatch: assignments grouped by expert, each group in token order (a counting sort)
  a.offsets.assign(E + 1, 0);
  for (int i = 0; i < NK; i++) a.offsets[a.r.topk[i] + 1]++;
  for (int e = 0; e < E; e++) a.offsets[e + 1] += a.offsets[e];
  a.perm_tok.resize(NK); a.perm_slot.resize(NK); ensure(a.wperm, NK);
  std::vector<int> fill(a.offsets.begin(), a.offsets.end() - 1);
  for (int i = 0; i < NK; i++) {
    const int j = fill[a.r.topk[i]]++;
    a.perm_tok[j] = i / K;
    a.perm_slot[j] = i;
    a.wperm[j] = a.r.gate[i];
  }
  if (a.load.size() != (size_t)E) a.load.assign(E, 0);
  for (int e = 0; e < E; e++) a.load[e] += a.offsets[e + 1] - a.offsets[e];

  // shared experts write out; routed experts add their gated outputs
  if (c.n_shared_experts > 0)
    swiglu_ffn_forward(ops, p, w.shared, a.sh, out, x, N, d, false);
  else
    std::fill(out, out + (size_t)N * d, 0.0f);
  ensure(a.ye, (size_t)NK * d);
  float* xe = ops.stash_begin(a.xe, NK, d);                             // [NK, d]
  ops.gather_rows(xe, x, a.perm_tok.data(), nullptr, NK, d);
  a.ex.resize(E);
  for (int e = 0; e < E; e++) {
    const int n = a.offsets[e + 1] - a.offsets[e];
    if (n == 0) continue;
    const size_t o = (size_t)a.offsets[e] * d;
    swiglu_ffn_forward(ops, p, w.experts[e], a.ex[e], a.ye.data() + o, xe + o, n, d, false);
  }
  ops.stash_seal(a.xe);
  ops.scatter_add_rows(out, a.ye.data(), a.perm_tok.data(), a.wperm.data(), NK, d);
}

void moe_backward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MoeWeights& w,
                  MoeActs& a, float* dx, const float* dout, const float* x, int B, int T,
                  double balance_scale) {
  const int N = B * T, d = c.hidden_size, E = c.n_routed_experts, K = c.num_experts_per_tok;
  const int NK = N * K;
  // shared experts write dx; everything else adds
  if (c.n_shared_experts > 0)
    swiglu_ffn_backward(ops, p, w.shared, a.sh, dx, dout, x, N, d, false);
  else
    std::fill(dx, dx + (size_t)N * d, 0.0f);

  // combine: out[n] += g · y  →  dg = dout[n]·y,  dy = g · dout[n]
  ensure(a.dwperm, NK); ensure(a.dye, (size_t)NK * d); ensure(a.dxe, (size_t)NK * d);
  ops.gather_rowdot(a.dwperm.data(), dout, a.perm_tok.data(), a.ye.data(), NK, d);
  ops.gather_rows(a.dye.data(), dout, a.perm_tok.data(), a.wperm.data(), NK, d);
  const float* xe = ops.stash_open(a.xe);                                // [NK, d]
  for (int e = 0; e < E; e++) {
    const int n = a.offsets[e + 1] - a.offsets[e];
    if (n == 0) continue;
    const size_t o = (size_t)a.offsets[e] * d;
    swiglu_ffn_backward(ops, p, w.experts[e], a.ex[e], a.dxe.data() + o, a.dye.data() + o,
                        xe + o, n, d, false);
  }
  ops.stash_close(a.xe);
  ops.scatter_add_rows(dx, a.dxe.data(), a.perm_tok.data(), nullptr, NK, d);

  // router: gate gradients back to token order, then through the gate function
  ensure(a.r.dgate, NK);
  for (int j = 0; j < NK; j++) a.r.dgate[a.perm_slot[j]] = a.dwperm[j];
  route_backward(c, a.r, B, T, balance_scale);
  linear_bwd_dw(ops.high_precision(), p.g(w.router), a.r.dlogits.data(), x, N, d, E);
  linear_bwd_dx(ops.high_precision(), dx, a.r.dlogits.data(), p.w(w.router), N, d, E, 1.0f);
}

}  // namespace aha
