// The op set of the engine: the seam every backend fills.
//
// ReferenceOps (reference.cpp) is the plain, never-optimised implementation of every
// op; CpuOps (fast.cpp) overrides the hot ones with BLAS and AVX-512/AVX2 kernels;
// a CUDA backend will be a third subclass. tests/test_ops.cpp runs every op of every
// backend against ReferenceOps, and the reference backward against finite differences.
//
// Conventions (llm.c style): flat float* row-major buffers, shapes in the comment of
// every argument, outputs first. Pointers are the backend's memory. Backward ops
// ACCUMULATE (+=) into parameter gradients and WRITE activation gradients unless the
// comment says otherwise.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/stash.h"

namespace aha::kernels {

// Precision is a property of the GEMM layer: PrecisionOps (precision_ops.h) wraps a
// backend and runs the Linear GEMMs in BF16 or FP8 (V3's recipe); layers that stay in high
// precision (MoE gating) ask for high_precision().
enum class Precision { FP32, BF16, FP8 };

// Layout of one causal attention call.
//   q  [B, Tq, H,   Dk] at q + (b*Tq + t)*ldq + h*Dk
//   k  [B, Tk, Hkv, Dk] at k + (b*Tk + t)*ldk + g*Dk   (query head h reads kv head h / (H/Hkv))
//   v  [B, Tk, Hkv, Dv] at v + (b*Tk + t)*ldv + g*Dv
//   out[B, Tq, H,   Dv] at o + (b*Tq + t)*ldo + h*Dv
// Query t sits at absolute position (Tk - Tq) + t and sees keys 0 .. that position.
// Tq == Tk is training / prefill; Tq == 1 is one decode step. Hkv == 1 is the MQA form
// the absorbed MLA path uses (one 576-wide latent+rope "head" shared by all heads).
// Gaps (training only, Tq == Tk): query row n = b*Tq + t also skips the keys
// [gap_begin[n], gap_end[n]) — a packed GRPO row holds one prompt and several
// completions, and a completion must not see its siblings (engine/grpo_pack.h).
// gap_begin == nullptr: no gaps. Every query must keep at least itself visible.
struct AttnShape {
  int B = 1, Tq = 1, Tk = 1, H = 1, Hkv = 1, Dk = 1, Dv = 1;
  int ldq = 0, ldk = 0, ldv = 0, ldo = 0;
  float scale = 1.0f;
  const int* gap_begin = nullptr;  // [B*Tq]
  const int* gap_end = nullptr;    // [B*Tq]
  // Optional: room for the softmax probabilities, attention_probs_floats(s) floats in a
  // layout of the backend's choosing. attention_forward writes them there and
  // attention_backward, given the same buffer, reads them instead of recomputing QKᵀ and
  // the exponentials. nullptr (or a backend that asks for 0 floats): recomputed. Must be
  // 32-byte aligned (an AlignedFloats buffer is).
  float* probs = nullptr;
};

class Ops {
 public:
  virtual ~Ops() = default;
  virtual const char* name() const = 0;
  // The backend for GEMMs that must not be quantised (the MoE router): itself, or the
  // backend a precision wrapper wraps.
  virtual Ops& high_precision() { return *this; }

  // ---- dense algebra -------------------------------------------------------------
  // C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C, row-major with leading dims.
  // transA: A is stored [K,M]; transB: B is stored [N,K] (a Linear weight [out,in]).
  virtual void gemm(bool transA, bool transB, int M, int N, int K, float alpha,
                    const float* A, int lda, const float* B, int ldb, float beta,
                    float* C, int ldc, Precision p = Precision::FP32) = 0;
  // y[n] += a * x[n]
  virtual void axpy(float* y, const float* x, float a, size_t n) = 0;
  // dst[rows, cols] (row stride ldd) = src[rows, cols] (row stride lds); add: dst +=
  virtual void copy2d(float* dst, int ldd, const float* src, int lds, int rows, int cols, bool add) = 0;

  // ---- normalisation and position ------------------------------------------------
  // out[N,C] = inp[N,C] * rstd[N] * weight[C];  rstd[N] = 1/sqrt(mean(inp^2) + eps)
  virtual void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight,
                               int N, int C, float eps) = 0;
  // dinp[N,C] = (write); dweight[C] += ; from dout[N,C], inp[N,C], weight[C], rstd[N]
  virtual void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                                const float* weight, const float* rstd, int N, int C) = 0;
  // In place on x[N, ld]: columns [off, off+R) of row n rotated as R/2 complex pairs
  // (x[2j], x[2j+1]) by angle pos[n] * theta^(-2j/R) (DeepSeek-V3's interleaved RoPE);
  // inverse rotates by the negative angle, which is the backward.
  // Rows are grouped: row n has position pos[n / rows_per_pos].
  virtual void rope(float* x, int ld, int off, int R, const int* pos, int rows_per_pos, int N,
                    float theta, bool inverse) = 0;

  // ---- attention -----------------------------------------------------------------
  // out as AttnShape; lse[B, H, Tq] = log-sum-exp of each query's scaled scores (for backward).
  virtual void attention_forward(float* out, float* lse, const float* q, const float* k,
                                 const float* v, const AttnShape& s) = 0;
  // Floats of AttnShape::probs this backend would use for this call (0: it recomputes).
  virtual size_t attention_probs_floats(const AttnShape&) const { return 0; }
  // dq, dk, dv written (same layouts as q, k, v); requires Tq == Tk.
  virtual void attention_backward(float* dq, float* dk, float* dv, const float* dout,
                                  const float* out, const float* lse, const float* q,
                                  const float* k, const float* v, const AttnShape& s) = 0;

  // MLA's per-head keys and values from the kv_b output and the shared RoPE key:
  //   k[N, H, dn+dr] = [kv[:, h, 0:dn] | kpe],  v[N, H, dv] = kv[:, h, dn:dn+dv]
  virtual void mla_expand_kv(float* k, float* v, const float* kv, const float* kpe, int N, int H,
                             int dn, int dr, int dv) = 0;
  // Its backward: dkv[N, H, dn+dv] and dkpe[N, dr] = Σ_h dk[:, h, dn:] (both written).
  virtual void mla_expand_kv_backward(float* dkv, float* dkpe, const float* dk, const float* dv,
                                      int N, int H, int dn, int dr, int dv_dim) = 0;

  // ---- feed-forward --------------------------------------------------------------
  // h[N,I] = silu(gu[N, 0:I]) * gu[N, I:2I]   (gate rows first, then up rows)
  virtual void swiglu_forward(float* h, const float* gu, int N, int I) = 0;
  // dgu[N,2I] written from dh[N,I], gu[N,2I]
  virtual void swiglu_backward(float* dgu, const float* dh, const float* gu, int N, int I) = 0;

  // ---- mixture of experts --------------------------------------------------------
  // dst[M,C] = w[m] * src[idx[m], :]  (w == nullptr: weight 1)
  virtual void gather_rows(float* dst, const float* src, const int32_t* idx, const float* w, int M, int C) = 0;
  // dst[idx[m], :] += w[m] * src[m, :]  (w == nullptr: weight 1); deterministic order
  virtual void scatter_add_rows(float* dst, const float* src, const int32_t* idx, const float* w,
                                int M, int C) = 0;
  // out[m] = dot(a[idx[m], :], b[m, :]) over C  (the gate-weight gradient of a combine)
  virtual void gather_rowdot(float* out, const float* a, const int32_t* idx, const float* b,
                             int M, int C) = 0;

  // ---- loss ----------------------------------------------------------------------
  // loss[N] = logsumexp(logits[n,:]) - logits[n, target[n]]   (target < 0: loss 0)
  virtual void xent_forward(float* loss, const float* logits, const int32_t* target, int N, int V) = 0;
  // dlogits[N,V] = dloss[n] * (softmax(logits[n]) - onehot(target[n])); may alias logits.
  virtual void xent_backward(float* dlogits, const float* logits, const int32_t* target,
                             const float* dloss, int N, int V) = 0;

  // ---- optimiser -----------------------------------------------------------------
  // AdamW on n values with the gradient scaled by gscale (global-norm clipping):
  // g' = gscale g; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
  // p -= lr * (m/bc1 / (sqrt(v/bc2) + eps) + wd * p)
  virtual void adamw(float* p, const float* g, float* m, float* v, size_t n, float lr, float b1,
                     float b2, float eps, float wd, float bc1, float bc2, float gscale) = 0;
  // sum of squares of x[n], accumulated in double
  virtual double sumsq(const float* x, size_t n) = 0;

  // ---- activations kept for Wgrad (stash.h) ----------------------------------------
  // The forward writes a GEMM input into stash_begin's buffer [rows, cols], runs its
  // GEMMs, then seals it; the backward opens it (the values, possibly dequantised), runs
  // the Wgrad, and closes it. Between seal and open the backend holds it in its own form;
  // these defaults (the FP32 backends) keep the floats, so open returns the same buffer.
  virtual float* stash_begin(Stash& s, int rows, int cols) {
    s.rows = rows; s.cols = cols; s.form = Stash::Form::Float;
    s.codes.clear(); s.scales.clear();
    if (s.f32.size() < s.values()) s.f32.resize(s.values());
    return s.f32.data();
  }
  virtual void stash_seal(Stash&) {}
  virtual const float* stash_open(Stash& s) {
    if (s.form != Stash::Form::Float) {  // sealed by a precision backend: decode a copy
      s.f32.resize(s.values());
      stash_decode(s, s.f32.data());
    }
    return s.f32.data();
  }
  virtual void stash_close(Stash& s) {
    if (s.form != Stash::Form::Float) std::vector<float>().swap(s.f32);
  }
};

// The plain reference backend: the definition of every op.
Ops& reference_ops();
// The fast CPU backend (BLAS + runtime-dispatched SIMD kernels).
Ops& cpu_ops();

}  // namespace aha::kernels
