// decode_scores for AVX-512 and AVX2, chosen once at run time (see decode_scores.h).
//
// Per key row, four dot products of length Dk run in four vector accumulators; what a key
// costs is then their horizontal sums. Reducing them one by one (what the compiler emits
// for a `simd reduction`) spills each accumulator and adds 16 scalars; here the four are
// folded together — halves added, then three hadds — into one 4-float vector: about 20
// instructions for four scores instead of about 80.
#include "kernels/cpu/decode_scores.h"

#include <immintrin.h>

namespace aha::kernels {

namespace {
inline void put4(float* S, size_t Tk, int j, __m128 r) {
  alignas(16) float v[4];
  _mm_store_ps(v, r);
  S[j] = v[0];
  S[Tk + j] = v[1];
  S[2 * Tk + j] = v[2];
  S[3 * Tk + j] = v[3];
}
}  // namespace

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace {
inline __m128 sum4(__m256 y0, __m256 y1, __m256 y2, __m256 y3) {  // → [Σy0, Σy1, Σy2, Σy3]
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(y0, y1), _mm256_hadd_ps(y2, y3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}
}  // namespace
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
namespace {
// GCC 12's _mm512_castps512_ps256 expands to an extract from an "undefined" vector,
// which -Wmaybe-uninitialized reports inside its own header; the cast reads nothing.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline __m256 fold512(__m512 a) {  // 16 lanes → 8 by adding the halves
  const __m256 lo = _mm512_castps512_ps256(a);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
  return _mm256_add_ps(lo, hi);
}
#pragma GCC diagnostic pop

void scores_avx512(float* S, int Tk, const float* Q, int M4, int Dk, const float* K, long ldk, float scale) {
  const __m128 sc = _mm_set1_ps(scale);
  const int tail = Dk % 16;
  const __mmask16 tm = (__mmask16)((1u << tail) - 1);
  for (int m0 = 0; m0 < M4; m0 += 4) {
    const float* q0 = Q + (size_t)m0 * Dk;
    const float *q1 = q0 + Dk, *q2 = q1 + Dk, *q3 = q2 + Dk;
    float* s0 = S + (size_t)m0 * Tk;
    for (int j = 0; j < Tk; j++) {
      const float* kj = K + (size_t)j * ldk;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      int d = 0;
      for (; d + 16 <= Dk; d += 16) {
        const __m512 kv = _mm512_loadu_ps(kj + d);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q0 + d), kv, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q1 + d), kv, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(q2 + d), kv, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(q3 + d), kv, a3);
      }
      if (tail) {
        const __m512 kv = _mm512_maskz_loadu_ps(tm, kj + d);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, q0 + d), kv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, q1 + d), kv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, q2 + d), kv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, q3 + d), kv, a3);
      }
      put4(s0, Tk, j, _mm_mul_ps(sum4(fold512(a0), fold512(a1), fold512(a2), fold512(a3)), sc));
    }
  }
}
}  // namespace
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace {
void scores_avx2(float* S, int Tk, const float* Q, int M4, int Dk, const float* K, long ldk, float scale) {
  const __m128 sc = _mm_set1_ps(scale);
  const int tail = Dk % 8;
  alignas(32) int mask_bits[8];
  for (int i = 0; i < 8; i++) mask_bits[i] = i < tail ? -1 : 0;
  const __m256i tm = _mm256_load_si256((const __m256i*)mask_bits);
  for (int m0 = 0; m0 < M4; m0 += 4) {
    const float* q0 = Q + (size_t)m0 * Dk;
    const float *q1 = q0 + Dk, *q2 = q1 + Dk, *q3 = q2 + Dk;
    float* s0 = S + (size_t)m0 * Tk;
    for (int j = 0; j < Tk; j++) {
      const float* kj = K + (size_t)j * ldk;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      int d = 0;
      for (; d + 8 <= Dk; d += 8) {
        const __m256 kv = _mm256_loadu_ps(kj + d);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + d), kv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q1 + d), kv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q2 + d), kv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q3 + d), kv, a3);
      }
      if (tail) {
        const __m256 kv = _mm256_maskload_ps(kj + d, tm);
        a0 = _mm256_fmadd_ps(_mm256_maskload_ps(q0 + d, tm), kv, a0);
        a1 = _mm256_fmadd_ps(_mm256_maskload_ps(q1 + d, tm), kv, a1);
        a2 = _mm256_fmadd_ps(_mm256_maskload_ps(q2 + d, tm), kv, a2);
        a3 = _mm256_fmadd_ps(_mm256_maskload_ps(q3 + d, tm), kv, a3);
      }
      put4(s0, Tk, j, _mm_mul_ps(sum4(a0, a1, a2, a3), sc));
    }
  }
}
}  // namespace
#pragma GCC pop_options

void decode_scores(float* S, int Tk, const float* Q, int M4, int Dk, const float* K, long ldk, float scale) {
  static const bool has_avx512 = __builtin_cpu_supports("avx512f");
  if (has_avx512)
    scores_avx512(S, Tk, Q, M4, Dk, K, ldk, scale);
  else
    scores_avx2(S, Tk, Q, M4, Dk, K, ldk, scale);
}

}  // namespace aha::kernels
