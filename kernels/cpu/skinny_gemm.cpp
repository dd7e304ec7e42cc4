// skinny_gemm for AVX-512 and AVX2: one kernel (skinny_gemm_impl.inc) compiled twice under
// `#pragma GCC target`, chosen once at run time from CPUID, as small_gemm.cpp does.
#include "kernels/cpu/skinny_gemm.h"

#include <immintrin.h>

#include <string>

#include "engine/error.h"

namespace aha::kernels {

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace {
// The horizontal sums of 1, 2 or 4 vectors of 8 floats: hadd folds pairs of vectors
// together, so four sums cost three hadds and one add of the halves instead of four
// separate reductions — at K = 64-160 the reductions are a large part of a block.
template <int R>
inline void sums8(const __m256* v, float* out) {
  if constexpr (R == 4) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
  } else if constexpr (R == 2) {
    const __m256 h = _mm256_hadd_ps(v[0], v[1]);  // [a01 a23 b01 b23 | a45 a67 b45 b67]
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    const __m128 t = _mm_hadd_ps(q, q);  // [a b a b]
    out[0] = _mm_cvtss_f32(t);
    out[1] = _mm_cvtss_f32(_mm_movehdup_ps(t));
  } else {
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(v[0]), _mm256_extractf128_ps(v[0], 1));
    const __m128 t = _mm_add_ps(q, _mm_movehl_ps(q, q));
    out[0] = _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
  }
}
}  // namespace
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace avx512 {
using vec = __m512;
constexpr int W = 16;
constexpr int kAccs = 16;  // of 32 zmm registers: ≤ 16 accumulators (M = 4 × 4), 4 inputs, a weight vector
inline vec zero() { return _mm512_setzero_ps(); }
inline vec load(const float* p) { return _mm512_loadu_ps(p); }
inline vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline void pin(vec& v) { asm("" : "+v"(v)); }  // keeps v in a register (see skinny_gemm_impl.inc)
// each vector's two halves added first, then as AVX2 does
template <int R>
inline void sums(const vec* v, float* out) {
  __m256 h[R];
  for (int r = 0; r < R; r++)
    h[r] = _mm256_add_ps(_mm512_castps512_ps256(v[r]),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[r]), 1)));
  sums8<R>(h, out);
}
#include "kernels/cpu/skinny_gemm_impl.inc"
}  // namespace avx512
#pragma GCC diagnostic pop
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using vec = __m256;
constexpr int W = 8;
constexpr int kAccs = 12;  // of 16 ymm registers: ≤ 12 accumulators (M = 3 × 4), 3 inputs, a weight vector
inline vec zero() { return _mm256_setzero_ps(); }
inline vec load(const float* p) { return _mm256_loadu_ps(p); }
inline vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
// An empty asm that "changes" v: GCC must then hold the loaded vector in a register
// instead of folding the load into every FMA that uses it (which doubled the loads at
// M = 2 and made the kernel load-bound on Zen 3).
inline void pin(vec& v) { asm("" : "+x"(v)); }
template <int R>
inline void sums(const vec* v, float* out) { sums8<R>(v, out); }
#include "kernels/cpu/skinny_gemm_impl.inc"
}  // namespace avx2
#pragma GCC pop_options

void skinny_gemm_nt(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                    float beta, float* C, int ldc) {
  AHA_CHECK(M >= 1 && M <= kSkinnyRows, "skinny_gemm_nt: M must be in [1, " + std::to_string(kSkinnyRows) +
                                            "], got " + std::to_string(M));
  static const bool has_avx512 = __builtin_cpu_supports("avx512f");
  if (has_avx512)
    avx512::run(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    avx2::run(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace aha::kernels
