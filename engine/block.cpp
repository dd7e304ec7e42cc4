// One pre-norm transformer block: x + MLA(RMSNorm(x)), then + FFN(RMSNorm(·)),
// the FFN being a dense SwiGLU or a DeepSeekMoE layer.
#include "engine/layers.h"

#include <algorithm>

namespace aha {

void block_register(Params& p, const ModelConfig& c, const std::string& pre, bool moe,
                    BlockWeights& w) {
  const int d = c.hidden_size;
  w.in_norm = p.add(pre + "input_layernorm.weight", {d}, false);
  mla_register(p, c, pre + "self_attn.", w.attn);
  w.post_norm = p.add(pre + "post_attention_layernorm.weight", {d}, false);
  w.moe = moe;
  if (moe)
    moe_register(p, c, pre + "mlp.", w.moe_w);
  else
    swiglu_register(p, d, c.intermediate_size, pre + "mlp.", w.dense);
}

void swap_backward_scratch(BlockActs& a, BlockActs& b) {
  using std::swap;
  swap(a.dxmid, b.dxmid); swap(a.dln, b.dln);
  MlaActs &ma = a.mla, &mb = b.mla;
  swap(ma.dq, mb.dq); swap(ma.dk, mb.dk); swap(ma.dv, mb.dv); swap(ma.dkv, mb.dkv);
  swap(ma.dckv_n, mb.dckv_n); swap(ma.dckv, mb.dckv); swap(ma.dkpe, mb.dkpe);
  swap(ma.dqa_n, mb.dqa_n); swap(ma.dqa, mb.dqa); swap(ma.dx, mb.dx);
  swap(a.dense.dgu, b.dense.dgu); swap(a.dense.dh, b.dense.dh);
  MoeActs &ea = a.moe, &eb = b.moe;
  swap(ea.dye, eb.dye); swap(ea.dxe, eb.dxe); swap(ea.dwperm, eb.dwperm);
  swap(ea.r.dgate, eb.r.dgate); swap(ea.r.dlogits, eb.r.dlogits);
  swap(ea.sh.dgu, eb.sh.dgu); swap(ea.sh.dh, eb.sh.dh);
  const size_t E = std::max(ea.ex.size(), eb.ex.size());
  ea.ex.resize(E);  // growing only: an expert's forward buffers are never dropped
  eb.ex.resize(E);
  for (size_t e = 0; e < E; e++) { swap(ea.ex[e].dgu, eb.ex[e].dgu); swap(ea.ex[e].dh, eb.ex[e].dh); }
}

void swap_forward_scratch(BlockActs& a, BlockActs& b) {
  using std::swap;
  swap(a.attn_out, b.attn_out);
  swap(a.mla.kv, b.mla.kv);
}

void block_forward(kernels::Ops& ops, const ModelConfig& c, Params& p, const BlockWeights& w,
                   BlockActs& a, float* out, const float* x, const TokenRows& rows, int B, int T,
                   AttnPath path) {
  const int N = B * T, d = c.hidden_size;
  const float eps = (float)c.rms_norm_eps;
  ensure(a.rstd1, N); ensure(a.attn_out, (size_t)N * d);
  ensure(a.xmid, (size_t)N * d); ensure(a.ln2, (size_t)N * d); ensure(a.rstd2, N);
  float* ln1 = ops.stash_begin(a.ln1, N, d);                               // [N,d]
  ops.rmsnorm_forward(ln1, a.rstd1.data(), x, p.w(w.in_norm), N, d, eps);
  mla_forward(ops, c, p, w.attn, a.mla, a.attn_out.data(), ln1, rows, B, T, path);
  ops.stash_seal(a.ln1);
  ops.copy2d(a.xmid.data(), d, x, d, N, d, false);
  ops.axpy(a.xmid.data(), a.attn_out.data(), 1.0f, (size_t)N * d);          // xmid = x + attn
  ops.rmsnorm_forward(a.ln2.data(), a.rstd2.data(), a.xmid.data(), p.w(w.post_norm), N, d, eps);
  if (w.moe)
    moe_forward(ops, c, p, w.moe_w, a.moe, out, a.ln2.data(), B, T);       // out = ffn
  else
    swiglu_ffn_forward(ops, p, w.dense, a.dense, out, a.ln2.data(), N, d, false);
  ops.axpy(out, a.xmid.data(), 1.0f, (size_t)N * d);                        // out = xmid + ffn
}

void block_backward(kernels::Ops& ops, const ModelConfig& c, Params& p, const BlockWeights& w,
                    BlockActs& a, float* dx, const float* dout, const float* x,
                    const TokenRows& rows, int B, int T, double balance_scale) {
  const int N = B * T, d = c.hidden_size;
  ensure(a.dxmid, (size_t)N * d); ensure(a.dln, (size_t)N * d);
  // FFN branch: dln2 from the FFN, then through post_attention_layernorm
  if (w.moe)
    moe_backward(ops, c, p, w.moe_w, a.moe, a.dln.data(), dout, a.ln2.data(), B, T, balance_scale);
  else
    swiglu_ffn_backward(ops, p, w.dense, a.dense, a.dln.data(), dout, a.ln2.data(), N, d, false);
  ops.rmsnorm_backward(a.dxmid.data(), p.g(w.post_norm), a.dln.data(), a.xmid.data(),
                       p.w(w.post_norm), a.rstd2.data(), N, d);
  ops.axpy(a.dxmid.data(), dout, 1.0f, (size_t)N * d);                      // residual
  // attention branch
  const float* ln1 = ops.stash_open(a.ln1);                                 // [N,d]
  mla_backward(ops, c, p, w.attn, a.mla, a.dln.data(), a.dxmid.data(), ln1, rows, B, T);
  ops.stash_close(a.ln1);
  ops.rmsnorm_backward(dx, p.g(w.in_norm), a.dln.data(), x, p.w(w.in_norm), a.rstd1.data(), N, d);
  ops.axpy(dx, a.dxmid.data(), 1.0f, (size_t)N * d);                        // residual
}

}  // namespace aha
