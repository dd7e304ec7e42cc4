// The layers of the DeepSeek-V3 block, each a forward/backward pair (llm.c style).
// N = B·T tokens, d = hidden_size, H = heads, dn/dr/dv = qk_nope/qk_rope/v head dims,
// dqk = dn + dr, dc = kv_lora_rank, qr = q_lora_rank, E = routed experts, K = top-k.
// Forward functions fill the activation struct that their backward reads.
// Backward functions accumulate weight gradients into Params::g and WRITE the input
// gradient they return.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/config.h"
#include "engine/params.h"
#include "kernels/cpu/aligned.h"
#include "kernels/cpu/ops.h"

namespace aha {

// Activation buffers are cache-line aligned (kernels/cpu/aligned.h: unaligned rows made
// every AVX-512 load straddle two lines).
using Buf = kernels::AlignedFloats;
inline void ensure(Buf& b, size_t n) { if (b.size() < n) b.resize(n); }

// ---- MLA ----------------------------------------------------------------------------
struct MlaWeights {            // offsets into Params
  size_t q_a = 0, q_a_norm = 0, q_b = 0;   // q_lora_rank > 0
  size_t q = 0;                            // q_lora_rank == 0
  size_t kv_a = 0, kv_a_norm = 0, kv_b = 0, o = 0;
};
// Stash: a GEMM input the backward reads only for its Wgrad — held between forward and
// backward in the form the backend keeps (FP8 codes + scales under train.precision = fp8).
using kernels::Stash;

struct MlaActs {
  Buf qa, qa_rstd;             // [N,qr], [N]
  Stash qa_n;                  // [N,qr]  q_norm(qa): the input of q_b
  Buf q;                       // [N, H, dqk]  roped
  Buf ckv, ckv_rstd;           // [N,dc] raw latent, [N]
  Stash ckv_n;                 // [N,dc]  kv_norm(latent): the input of kv_b
  Buf dec_qa_n, dec_ckv_n;     // decoding's q_norm(qa) and kv_norm(latent) (mla_decode)
  Buf kpe;                     // [N, dr]      roped, shared by all heads
  Buf kv;                      // [N, H, dn+dv] = kv_b(ckv_n)
  Buf k, v;                    // [N, H, dqk], [N, H, dv]   per-head keys and values
  Buf o, lse;                  // [N, H, dv], [B, H, T]
  // The attention probabilities, if the backend keeps them (AttnShape::probs) and a
  // backward follows: the model sets keep_probs before the forward; probs_kept is how many
  // floats that forward wrote (0: none), which the backward checks before using them.
  Buf probs;
  bool keep_probs = false;
  size_t probs_kept = 0;
  // backward scratch
  Buf dq, dk, dv, dkv, dckv_n, dckv, dkpe, dqa_n, dqa, dx;
};
enum class AttnPath { Naive, Absorbed };

// Where the token rows of a [B, T] batch sit: each row's RoPE position and, for packed
// rows (one prompt followed by several completions, engine/grpo_pack.h), the keys each
// query skips (kernels::AttnShape's gaps). Built from a bare position array for the
// plain causal case.
struct TokenRows {
  TokenRows(const int* positions) : pos(positions) {}  // NOLINT: implicit on purpose
  TokenRows(const int* positions, const int* begin, const int* end) : pos(positions), gap_begin(begin), gap_end(end) {}
  const int* pos;                   // [B*T]
  const int* gap_begin = nullptr;   // [B*T] or nullptr
  const int* gap_end = nullptr;     // [B*T]
};

void mla_register(Params& p, const ModelConfig& c, const std::string& prefix, MlaWeights& w);
// out[N,d] = MLA(x[N,d]); rows.pos[N] the position of every token row.
void mla_forward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w,
                 MlaActs& a, float* out, const float* x, const TokenRows& rows, int B, int T,
                 AttnPath path = AttnPath::Naive);
// dx[N,d] (written) from dout[N,d]; needs the forward's x.
void mla_backward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w,
                  MlaActs& a, float* dx, const float* dout, const float* x, const TokenRows& rows,
                  int B, int T);

// Where one decoding call reads and writes a layer's cache (see Model::DecodeCache):
// data [B, capacity, width], one slot per token, in one of MLA's two forms:
//   Absorbed: [kv_norm(c_kv) | rope(k_pe)]                      width dc + dr
//   Naive:    [k: H × (dn | rope(k_pe)) | v: H × dv]            width H·(dqk + dv),
//             the expanded per-head keys and values an MHA model would cache.
// Rows are right-aligned: the n new tokens of every row go to slots T .. T+n-1, and row b
// holds its position 0 in slot start[b] (nullptr: all rows start at slot 0), so rows
// with prompts of different lengths share one T.
struct MlaCacheView {
  float* data = nullptr;
  int capacity = 0, T = 0;
  const int* start = nullptr;
  AttnPath path = AttnPath::Absorbed;
};
// Floats per slot of one layer's cache for a path (the `width` above).
int mla_cache_width(const ModelConfig& c, AttnPath path);
// Writes the cache entries of n new tokens per row (x[B·n, d], the attention's input)
// at slots T .. T+n-1, without attending: what mla_decode does first, alone — for tokens
// whose outputs nobody reads (the MTP module over a prompt needs only its last row).
void mla_cache_write(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w, MlaActs& a,
                     const float* x, const MlaCacheView& cache, int B, int n);
// Decodes n new tokens per row: x[B·n, d] (row-major by (row, token)) → out[B·n, d].
// Writes their cache entries at slots T .. T+n-1; token j of row b attends to that row's
// slots start[b] .. T+j (causal), at position T + j − start[b].
void mla_decode(kernels::Ops& ops, const ModelConfig& c, Params& p, const MlaWeights& w, MlaActs& a,
                float* out, const float* x, const MlaCacheView& cache, int B, int n);

// ---- SwiGLU (dense FFN and the shared experts) -----------------------------------------
struct SwigluWeights { size_t gate_up = 0, down = 0; int inter = 0; };  // [2I,d], [d,I]
struct SwigluActs {
  Buf gu;                      // [N,2I] gate and up projections
  Stash h;                     // [N,I]  silu(gate)·up: the input of down
  Buf dgu, dh;                 // [N,2I], [N,I]
};
void swiglu_register(Params& p, int d, int inter, const std::string& prefix, SwigluWeights& w);
// out[N,d] (+)= SwiGLU(x[N,d]); accumulate: add into out instead of writing
void swiglu_ffn_forward(kernels::Ops& ops, Params& p, const SwigluWeights& w, SwigluActs& a,
                        float* out, const float* x, int N, int d, bool accumulate);
// dx[N,d] (+)= from dout[N,d]
void swiglu_ffn_backward(kernels::Ops& ops, Params& p, const SwigluWeights& w, SwigluActs& a,
                         float* dx, const float* dout, const float* x, int N, int d,
                         bool accumulate);

// ---- Router (DeepSeekMoE gate) -------------------------------------------------------------
struct RouterActs {
  Buf logits;                  // [N,E]  x·W_gᵀ
  Buf scores;                  // [N,E]  sigmoid (or softmax) of logits
  std::vector<int32_t> topk;   // [N,K]  chosen experts (by biased score, group-limited)
  Buf gate;                    // [N,K]  gate values (unbiased, normalised, × scaling)
  Buf f;                       // [B,E]  f_i of each sequence (balance loss)
  Buf dgate, dlogits;          // backward
  double balance_loss = 0.0;   // α·mean over sequences of Σ_i f_i P_i
};
// Chooses experts and gate values for every token. bias[E] only changes the choice.
void route_forward(const ModelConfig& c, RouterActs& r, const float* bias, int B, int T);
// dlogits[N,E] from dgate[N,K] and the balance loss (weight `balance_scale` = its
// coefficient in the total loss, α already inside).
void route_backward(const ModelConfig& c, RouterActs& r, int B, int T, double balance_scale);

// ---- MoE FFN -------------------------------------------------------------------------------
struct MoeWeights {
  size_t router = 0, bias = 0;           // [E,d], [E] (FP32 correction bias, not trained)
  std::vector<SwigluWeights> experts;    // E
  SwigluWeights shared;                  // width N_s·moe_inter (absent when N_s == 0)
};
struct MoeActs {
  RouterActs r;
  std::vector<int32_t> perm_tok;         // [N·K] token of each assignment, grouped by expert
  std::vector<int32_t> perm_slot;        // [N·K] its (n·K + k) slot
  std::vector<int> offsets;              // [E+1] assignments of expert e: offsets[e] .. offsets[e+1]
  Buf wperm;                             // [N·K] gate value of each assignment
  Stash xe;                              // [N·K, d] the experts' inputs, grouped by expert
  Buf ye, dye, dxe, dwperm;              // [N·K, d], [N·K]
  std::vector<SwigluActs> ex;            // per-expert scratch (views are per-expert slices)
  SwigluActs sh;
  std::vector<int64_t> load;             // [E] tokens routed to each expert, summed since reset
};
void moe_register(Params& p, const ModelConfig& c, const std::string& prefix, MoeWeights& w);
void moe_forward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MoeWeights& w,
                 MoeActs& a, float* out, const float* x, int B, int T);
// balance_scale: the balance loss's weight in the total loss (1 for the main model's loss
// scale, times the micro-batch scale)
void moe_backward(kernels::Ops& ops, const ModelConfig& c, Params& p, const MoeWeights& w,
                  MoeActs& a, float* dx, const float* dout, const float* x, int B, int T,
                  double balance_scale);

// ---- Transformer block: x + MLA(norm(x)), then + FFN(norm(·)) -----------------------
struct BlockWeights {
  size_t in_norm = 0, post_norm = 0;
  MlaWeights attn;
  bool moe = false;
  SwigluWeights dense;
  MoeWeights moe_w;
};
struct BlockActs {
  Stash ln1;                   // [N,d] input_layernorm(x): the input of q_a and kv_a
  Buf dec_ln1;                 // its decoding counterpart (Model::decode_step)
  Buf rstd1, attn_out, xmid, ln2, rstd2, ffn_out;
  MlaActs mla;
  SwigluActs dense;
  MoeActs moe;
  Buf dxmid, dln;
};
// The buffers a block's backward uses only while it runs (the gradients it hands between
// its layers), as opposed to the forward's activations, which the backward reads. A Model
// keeps one such set and lends it to each block for its backward (swapped in, run,
// swapped out), so every block reuses the same recently touched memory instead of
// first-touching a set of its own: `tiny`'s peak RSS 670 → 477 MB. A backward buffer
// left off this list stays per-block, which is correct, only not shared.
void swap_backward_scratch(BlockActs& a, BlockActs& b);
// The same for the forward's own intermediates that no backward reads (the attention
// branch's output before the residual add, MLA's kv_b output before it is split into
// per-head keys and values): lent to each block for its training forward. Only buffers no
// backward reads may be listed: the next block's forward overwrites them.
void swap_forward_scratch(BlockActs& a, BlockActs& b);
void block_register(Params& p, const ModelConfig& c, const std::string& prefix, bool moe,
                    BlockWeights& w);
// out[N,d] = block(x[N,d])
void block_forward(kernels::Ops& ops, const ModelConfig& c, Params& p, const BlockWeights& w,
                   BlockActs& a, float* out, const float* x, const TokenRows& rows, int B, int T,
                   AttnPath path = AttnPath::Naive);
// dx[N,d] written from dout[N,d]
void block_backward(kernels::Ops& ops, const ModelConfig& c, Params& p, const BlockWeights& w,
                    BlockActs& a, float* dx, const float* dout, const float* x,
                    const TokenRows& rows, int B, int T, double balance_scale);

}  // namespace aha
