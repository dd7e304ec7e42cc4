// Causal attention for the fast CPU backend: training forward and backward on
// small_gemm (with the softmax probabilities kept for the backward when AttnShape::probs
// asks), and decoding's few queries against a long cache.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/error.h"
#include "kernels/cpu/aligned.h"
#include "kernels/cpu/decode_scores.h"
#include "kernels/cpu/fast.h"
#include "kernels/cpu/small_gemm.h"
#include "kernels/cpu/softmax_rows.h"
#include "kernels/cpu/transpose8.h"

namespace aha::kernels {

// Causal attention on the register-blocked small_gemm (small_gemm.h): per (batch, head)
// the keys and values are transposed once, then queries go in blocks of kQBlock rows;
// a block multiplies only against the keys it can see, and inside it the tiles above
// the diagonal are skipped.
constexpr int kQBlock = 64;
// Row stride of the transposed keys/values: the sequence length plus one cache line.
// Rows a power-of-two apart (T = 256, 512 floats) all fall into the same few L1 sets, so a
// key panel evicted itself before the next row tile reused it (QK^T ran at 120 GFLOP/s
// per core instead of 160).
inline int padded(int T) { return (T + 15) / 16 * 16 + 16; }  // also keeps rows 64-byte aligned
// Floats per thread of scratch, rounded to whole cache lines so every thread's part starts one.
inline size_t lines(size_t floats) { return (floats + 15) / 16 * 16; }
constexpr int kDecodeQueries = 4;  // at most this many queries per sequence: decode_attention

namespace {
// dst[8, ldd] = src[8, 8] (row stride lds) transposed in registers (transpose8.h). Written
// element by element, the transpose stored every float to a different cache line (10 µs
// per head for `tiny`'s keys and values, against 3 µs in 8×8 blocks).
#if defined(__AVX2__)
inline void transpose8x8(float* dst, int ldd, const float* src, int lds) {
  __m256 r[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (size_t)i * lds);
  transpose8(r);
  for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + (size_t)i * ldd, r[i]);
}
#endif
// dst[D, ldd] = src[T, D] (row stride lds) transposed, so a key block is a row-major operand.
void transpose(float* dst, int ldd, const float* src, int T, int D, int lds) {
  int t0 = 0;
#if defined(__AVX2__)  // release builds target x86-64-v3; an AHA_NATIVE build may not
  for (; t0 + 8 <= T; t0 += 8) {
    int d0 = 0;
    for (; d0 + 8 <= D; d0 += 8) transpose8x8(dst + (size_t)d0 * ldd + t0, ldd, src + (size_t)t0 * lds + d0, lds);
    for (int d = d0; d < D; d++)
      for (int t = t0; t < t0 + 8; t++) dst[(size_t)d * ldd + t] = src[(size_t)t * lds + d];
  }
#endif
  for (int t = t0; t < T; t++)
    for (int d = 0; d < D; d++) dst[(size_t)d * ldd + t] = src[(size_t)t * lds + d];
}
// Attention's per-call scratch, kept per calling thread and grown, never shrunk: a fresh
// zero-filled vector per call (300–440 KB at tiny's shape, 28 calls a step per replica)
// cost a memset and, past glibc's mmap threshold, page faults. Every float of it is
// written before it is read (checked by filling it with NaN on every call through the
// whole test suite).
float* attention_scratch(size_t floats) {
  thread_local AlignedFloats buf;
  if (buf.size() < floats) {
    buf.clear();
    buf.shrink_to_fit();
    buf.resize(floats);
  }
  return buf.data();
}
// dst[T, D] = src[T, D] (row stride lds): one head's values packed, so P·V reads them as
// contiguous rows rather than rows H·Dv apart.
void pack_rows(float* dst, const float* src, int T, int D, int lds) {
  for (int t = 0; t < T; t++) std::memcpy(dst + (size_t)t * D, src + (size_t)t * lds, sizeof(float) * D);
}
}  // namespace

// Decoding: a few new queries against a long cache. The training kernel's per-head
// transposes cost as much as the products here (O(Tk·Dk) either way) and, with MQA (the
// absorbed latent cache), would re-read the one shared key row for every head. Here every
// query vector that uses a key row (all heads that share it, all new tokens) is scored in
// one pass over the keys, and P·V is one register-blocked small_gemm per new token — which
// is what makes MLA's small latent cache fast to decode from: one 80-float row serves all
// heads.
void CpuOps::decode_attention(float* out, float* lse, const float* q, const float* k, const float* v,
                              const AttnShape& s) {
  // inside a parallel region (the decoder's rows, engine/mla.cpp) this call has one thread
  const int group = s.H / s.Hkv, nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  // work items: (batch, kv head, slice of its heads); slice the heads only as far as it
  // takes to give every thread work (each slice reads the keys once)
  const int base = s.B * s.Hkv;
  const int slices = base >= nt ? 1 : std::min(group, (nt + base - 1) / base);
  const int items = base * slices;
  const int M4 = (s.Tq * group + 3) / 4 * 4;  // query vectors of one item, padded to 4
  const size_t per = lines((size_t)M4 * s.Dk + (size_t)M4 * s.Tk);
  AlignedFloats scratch(per * std::min(nt, items));  // allocated outside the region
  const int vis0 = s.Tk - s.Tq;
#pragma omp parallel for num_threads(std::min(nt, items)) schedule(static)
  for (int it = 0; it < items; it++) {
    const int b = it / (s.Hkv * slices), g = (it / slices) % s.Hkv, c = it % slices;
    const int h0 = g * group + c * group / slices, h1 = g * group + (c + 1) * group / slices, nh = h1 - h0;
    float* Qp = scratch.data() + per * omp_get_thread_num();  // [M4, Dk] rows (t, head)
    float* S = Qp + (size_t)M4 * s.Dk;                       // [M4, Tk] scores, then P
    const int M = s.Tq * nh;
    for (int t = 0; t < s.Tq; t++)
      for (int hh = 0; hh < nh; hh++)
        std::copy_n(q + ((size_t)b * s.Tq + t) * s.ldq + (size_t)(h0 + hh) * s.Dk, s.Dk,
                    Qp + (size_t)(t * nh + hh) * s.Dk);
    std::fill(Qp + (size_t)M * s.Dk, Qp + (size_t)((M + 3) / 4 * 4) * s.Dk, 0.0f);
    const float* K = k + (size_t)b * s.Tk * s.ldk + (size_t)g * s.Dk;
    const float* V = v + (size_t)b * s.Tk * s.ldv + (size_t)g * s.Dv;
    decode_scores(S, s.Tk, Qp, (M + 3) / 4 * 4, s.Dk, K, s.ldk, s.scale);
    for (int t = 0; t < s.Tq; t++)
      for (int hh = 0; hh < nh; hh++) {
        float* row = S + (size_t)(t * nh + hh) * s.Tk;
        const int n = vis0 + t + 1;  // query t sees keys [0, vis0 + t]
        lse[((size_t)b * s.H + h0 + hh) * s.Tq + t] = softmax_row(row, n);
        std::fill(row + n, row + s.Tk, 0.0f);
      }
    // out rows (t, h0 .. h1) = P[t·nh .. +nh, Tk] · V[Tk, Dv]
    for (int t = 0; t < s.Tq; t++)
      small_gemm(nh, s.Dv, s.Tk, 1.0f, S + (size_t)t * nh * s.Tk, s.Tk, 1, V, s.ldv,
                 out + ((size_t)b * s.Tq + t) * s.ldo + (size_t)h0 * s.Dv, s.Dv, false);
  }
}

// The probabilities cache (AttnShape::probs): per (batch, head) the query blocks' [rows,
// keys] tiles one after another, keys = r0 + rows (Tq == Tk), each row padded to whole
// 8-float vectors (probs_ld) so that it can be written with streaming stores. At T = 256
// that is 40,960 floats per head — 2.6 MB a layer for tiny's 4 × 4 (batch, head) pairs,
// about what its q, k, v and output take — and it grows with T², so longer sequences
// recompute.
constexpr int kProbsMaxT = 512;
// and at most this many floats per call (64 MB): a long packed GRPO batch recomputes
// rather than hold B·H·T²/2 floats per layer
constexpr size_t kProbsMaxFloats = size_t{16} << 20;
inline int probs_ld(int keys) { return (keys + 7) / 8 * 8; }
// floats of the tiles of blocks [0, r0) of one head (every earlier block is full)
inline size_t probs_offset(int r0) {
  const size_t n = (size_t)r0 / kQBlock;
  return (size_t)kQBlock * kQBlock * n * (n + 1) / 2;
}
inline size_t probs_per_head(int T) {
  const int r0 = (T - 1) / kQBlock * kQBlock;  // the last block
  return probs_offset(r0) + (size_t)(T - r0) * probs_ld(T);
}
// dst[0, ld) = src[0, n) then zeros, with non-temporal stores: the backward reads the row
// hundreds of milliseconds later, so caching it (and reading each line before writing it)
// only evicts what the forward is using. dst is 32-byte aligned, ld a multiple of 8.
inline void stream_row(float* dst, const float* src, int n, int ld) {
#if defined(__AVX2__)
  int j = 0;
  for (; j + 8 <= n; j += 8) _mm256_stream_ps(dst + j, _mm256_loadu_ps(src + j));
  for (; j < ld; j += 8) {
    const __m256i lane = _mm256_add_epi32(_mm256_set1_epi32(j), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
    _mm256_stream_ps(dst + j, _mm256_maskload_ps(src + j, live));  // masked-off lanes read as 0
  }
#else
  std::memcpy(dst, src, sizeof(float) * n);
  std::fill(dst + n, dst + ld, 0.0f);
#endif
}

size_t CpuOps::attention_probs_floats(const AttnShape& s) const {
  if (s.Tq != s.Tk || s.Tk > kProbsMaxT || s.Tq <= kDecodeQueries) return 0;
  const size_t n = (size_t)s.B * s.H * probs_per_head(s.Tq);
  return n <= kProbsMaxFloats ? n : 0;
}

void CpuOps::attention_forward(float* out, float* lse, const float* q, const float* k,
                               const float* v, const AttnShape& s) {
  if (s.Tq <= kDecodeQueries && s.Tk >= 4 * s.Tq) return decode_attention(out, lse, q, k, v, s);
  const int group = s.H / s.Hkv;
  const int BH = s.B * s.H;
  const bool cache = s.probs && attention_probs_floats(s) > 0;
  AHA_CHECK(!cache || reinterpret_cast<uintptr_t>(s.probs) % 32 == 0,
            "attention_forward: AttnShape::probs must be 32-byte aligned (it is written with streaming stores)");
  // Scratch is allocated before the parallel region: an exception (bad_alloc) thrown
  // inside one would terminate the process. Inside another parallel region (a
  // data-parallel replica) the region below has one thread: scratch for one.
  const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int ldkt = padded(s.Tk);
  const size_t per = lines((size_t)kQBlock * s.Tk + (size_t)s.Dk * ldkt + (size_t)s.Tk * s.Dv + kQBlock);
  float* scratch = attention_scratch(per * nt);
#pragma omp parallel num_threads(nt)
  {
    float* S = scratch + per * omp_get_thread_num();  // [kQBlock, Tk] scores
    float* Kt = S + (size_t)kQBlock * s.Tk;                  // [Dk, ldkt] keys transposed
    float* Vp = Kt + (size_t)s.Dk * ldkt;                    // [Tk, Dv] values packed
    float* inv = Vp + (size_t)s.Tk * s.Dv;                   // [kQBlock] 1 / Σ weights per row
#pragma omp for schedule(static)
    for (int bh = 0; bh < BH; bh++) {
      const int b = bh / s.H, h = bh % s.H, g = h / group;
      const float* K = k + (size_t)b * s.Tk * s.ldk + (size_t)g * s.Dk;
      const float* V = v + (size_t)b * s.Tk * s.ldv + (size_t)g * s.Dv;
      transpose(Kt, ldkt, K, s.Tk, s.Dk, s.ldk);
      pack_rows(Vp, V, s.Tk, s.Dv, s.ldv);
      for (int r0 = 0; r0 < s.Tq; r0 += kQBlock) {
        const int rows = std::min(kQBlock, s.Tq - r0);
        const int c = s.Tk - s.Tq + r0;  // query r0 + i sees keys [0, c + i]
        const int keys = c + rows;
        const float* Q = q + ((size_t)b * s.Tq + r0) * s.ldq + (size_t)h * s.Dk;
        float* O = out + ((size_t)b * s.Tq + r0) * s.ldo + (size_t)h * s.Dv;
        float* P = S;  // scores, then probabilities
        float* Pc = cache ? s.probs + (size_t)bh * probs_per_head(s.Tq) + probs_offset(r0) : nullptr;
        TileLimits causal;
        causal.n_end_off = c;
        small_gemm(rows, keys, s.Dk, s.scale, Q, s.ldq, 1, Kt, ldkt, P, keys, false, causal);
        // probabilities p = exp(s − max) / Σ in P (zero past the diagonal); O = P · V
        for (int t = 0; t < rows; t++) {
          const int n = c + t + 1;
          float* row = P + (size_t)t * keys;
          if (s.gap_begin) {  // a packed row: this query's hidden siblings score -inf (weight 0)
            const size_t q_row = (size_t)b * s.Tq + r0 + t;
            const int lo = std::min(s.gap_begin[q_row], n), hi = std::max(lo, std::min(s.gap_end[q_row], n));
            std::fill(row + lo, row + hi, -INFINITY);
          }
          lse[(size_t)bh * s.Tq + r0 + t] = exp_row(row, n, inv + t);
          const float iv = inv[t];
#pragma omp simd
          for (int j = 0; j < n; j++) row[j] *= iv;
          std::fill(row + n, row + keys, 0.0f);
          if (Pc) stream_row(Pc + (size_t)t * probs_ld(keys), row, n, probs_ld(keys));
        }
        TileLimits kc;
        kc.k_end_off = c;
        small_gemm(rows, s.Dv, keys, 1.0f, P, keys, 1, Vp, s.Dv, O, s.ldo, false, kc);
      }
    }
#if defined(__AVX2__)
    if (cache) _mm_sfence();  // the streamed rows are visible before any thread reads them
#endif
  }
}

void CpuOps::attention_backward(float* dq, float* dk, float* dv, const float* dout,
                                const float* out, const float* lse, const float* q, const float* k,
                                const float* v, const AttnShape& s) {
  // P from the forward's cache (AttnShape::probs) or recomputed from Q, K and the saved
  // log-sum-exp, then per query block
  //   dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowdot(dO, O)),  dQ = dS·K·scale,  dK += dSᵀ·Q·scale.
  // One task per (batch, kv head) so the heads that share a kv head accumulate in order.
  const int group = s.H / s.Hkv;
  const int T = s.Tq;  // == Tk
  const bool cache = s.probs && attention_probs_floats(s) > 0;
  const int BG = s.B * s.Hkv;
  const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();  // as in the forward
  const int ldt = padded(T);
  const size_t per = lines(2 * (size_t)kQBlock * T + (size_t)(s.Dk + s.Dv) * ldt);
  float* scratch = attention_scratch(per * nt);  // allocated outside the parallel region (see forward)
#pragma omp parallel num_threads(nt)
  {
    float* P = scratch + per * omp_get_thread_num();
    float* dP = P + (size_t)kQBlock * T;
    float* Kt = dP + (size_t)kQBlock * T;
    float* Vt = Kt + (size_t)s.Dk * ldt;
#pragma omp for schedule(static)
    for (int bg = 0; bg < BG; bg++) {
      const int b = bg / s.Hkv, g = bg % s.Hkv;
      const float* K = k + (size_t)b * T * s.ldk + (size_t)g * s.Dk;
      const float* V = v + (size_t)b * T * s.ldv + (size_t)g * s.Dv;
      float* dK = dk + (size_t)b * T * s.ldk + (size_t)g * s.Dk;
      float* dV = dv + (size_t)b * T * s.ldv + (size_t)g * s.Dv;
      if (!cache) transpose(Kt, ldt, K, T, s.Dk, s.ldk);  // only QKᵀ's recomputation reads Kᵀ
      transpose(Vt, ldt, V, T, s.Dv, s.ldv);
      for (int t = 0; t < T; t++) {
        std::fill(dK + (size_t)t * s.ldk, dK + (size_t)t * s.ldk + s.Dk, 0.0f);
        std::fill(dV + (size_t)t * s.ldv, dV + (size_t)t * s.ldv + s.Dv, 0.0f);
      }
      for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        const float* L = lse + ((size_t)b * s.H + h) * T;
        for (int r0 = 0; r0 < T; r0 += kQBlock) {
          const int rows = std::min(kQBlock, T - r0), keys = r0 + rows;
          const float* Q = q + ((size_t)b * T + r0) * s.ldq + (size_t)h * s.Dk;
          const float* dO = dout + ((size_t)b * T + r0) * s.ldo + (size_t)h * s.Dv;
          const float* O = out + ((size_t)b * T + r0) * s.ldo + (size_t)h * s.Dv;
          float* dQ = dq + ((size_t)b * T + r0) * s.ldq + (size_t)h * s.Dk;
          TileLimits ncausal, kend, kbegin;
          ncausal.n_end_off = r0;   // row i of the block needs columns [0, r0 + i]
          kend.k_end_off = r0;      // ... and reduces over keys [0, r0 + i]
          kbegin.k_begin_off = -r0; // key j gets contributions from rows i >= j - r0
          // the forward's probabilities, or P recomputed from Q, K and the log-sum-exp
          const float* Pc = cache ? s.probs + ((size_t)b * s.H + h) * probs_per_head(T) + probs_offset(r0) : nullptr;
          if (!Pc) small_gemm(rows, keys, s.Dk, s.scale, Q, s.ldq, 1, Kt, ldt, P, keys, false, ncausal);
          small_gemm(rows, keys, s.Dv, 1.0f, dO, s.ldo, 1, Vt, ldt, dP, keys, false, ncausal);
          for (int t = 0; t < rows; t++) {
            float* p = P + (size_t)t * keys;
            float* dp = dP + (size_t)t * keys;
            float doo = 0.0f;
#pragma omp simd reduction(+ : doo)
            for (int i = 0; i < s.Dv; i++) doo += dO[(size_t)t * s.ldo + i] * O[(size_t)t * s.ldo + i];
            const int n = r0 + t + 1;
            if (Pc) {  // dS = P ⊙ (dP − rowdot) · scale; the cached row is 0 past n and in gaps
              const float* pc = Pc + (size_t)t * probs_ld(keys);
#pragma omp simd
              for (int j = 0; j < n; j++) dp[j] = pc[j] * (dp[j] - doo) * s.scale;
              std::fill(dp + n, dp + keys, 0.0f);
              continue;
            }
            if (s.gap_begin) {  // hidden keys: score -inf, probability 0, as in the forward
              const size_t q_row = (size_t)b * T + r0 + t;
              const int lo = std::min(s.gap_begin[q_row], n), hi = std::max(lo, std::min(s.gap_end[q_row], n));
              std::fill(p + lo, p + hi, -INFINITY);
            }
            softmax_grad_row(p, dp, n, L[r0 + t], doo, s.scale);
            for (int j = n; j < keys; j++) { p[j] = 0.0f; dp[j] = 0.0f; }
          }
          // dV[keys, Dv] += Pᵀ · dO   (A = Pᵀ: element (j, i) at P[i·keys + j])
          small_gemm(keys, s.Dv, rows, 1.0f, Pc ? Pc : P, 1, Pc ? probs_ld(keys) : keys, dO, s.ldo, dV, s.ldv, true,
                     kbegin);
          small_gemm(rows, s.Dk, keys, 1.0f, dP, keys, 1, K, s.ldk, dQ, s.ldq, false, kend);
          small_gemm(keys, s.Dk, rows, 1.0f, dP, 1, keys, Q, s.ldq, dK, s.ldk, true, kbegin);
        }
      }
    }
  }
}

}  // namespace aha::kernels
