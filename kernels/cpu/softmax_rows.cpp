// softmax_rows.h: one body per instruction set, like small_gemm.cpp.
#include "kernels/cpu/softmax_rows.h"

#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/simd.h"

namespace aha::kernels {

#pragma GCC push_options
#pragma GCC target("avx512f")
// GCC 12's avx512fintrin.h builds unmasked results on _mm512_undefined_ps() and then
// warns, once inlined, that the "undefined" register is used uninitialised.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace avx512 {
constexpr int W = 16;
// exp(x) as fast_expf: x = n·ln2 + f, |f| ≤ ln2/2, e^f by its degree-6 Taylor polynomial,
// times 2^n with vscalefps; x ≤ −87 (and −inf) gives exactly 0, NaN stays NaN.
inline __m512 vexp(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.0f), x0 = x;
  const __mmask16 live = _mm512_cmp_ps_mask(x, lo, _CMP_NLE_UQ), nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693147180559945309f), x);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_mask_mov_ps(_mm512_maskz_mov_ps(live, _mm512_scalef_ps(p, n)), nan, x0);
}
inline __mmask16 tail(int left) { return left >= W ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

float exp_row(float* s, int n, float* inv_sum) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int j = 0; j < n; j += W) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, tail(n - j), s + j));
  const float m = _mm512_reduce_max_ps(mx);
  const __m512 vm = _mm512_set1_ps(m);
  __m512 sum = _mm512_setzero_ps();
  for (int j = 0; j < n; j += W) {
    const __mmask16 k = tail(n - j);
    const __m512 e = vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), vm));
    _mm512_mask_storeu_ps(s + j, k, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, e));
  }
  const float total = _mm512_reduce_add_ps(sum);
  *inv_sum = 1.0f / total;
  return m + std::log(total);
}

void softmax_grad_row(float* p, float* dp, int n, float lse, float doo, float scale) {
  const __m512 l = _mm512_set1_ps(lse), d = _mm512_set1_ps(doo), sc = _mm512_set1_ps(scale);
  for (int j = 0; j < n; j += W) {
    const __mmask16 k = tail(n - j);
    const __m512 e = vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, p + j), l));
    _mm512_mask_storeu_ps(p + j, k, e);
    const __m512 g = _mm512_mul_ps(_mm512_mul_ps(e, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, dp + j), d)), sc);
    _mm512_mask_storeu_ps(dp + j, k, g);
  }
}
}  // namespace avx512
#pragma GCC diagnostic pop
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
constexpr int W = 8;
// As above; 2^n is built in the exponent bits (n ≥ −126 after the clamp, so normal).
inline __m256 vexp(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.0f), x0 = x;
  const __m256 live = _mm256_cmp_ps(x, lo, _CMP_NLE_UQ), nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693147180559945309f), x);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_blendv_ps(_mm256_and_ps(live, _mm256_mul_ps(p, _mm256_castsi256_ps(e))), x0, nan);
}

// Lanes [0, left) of a vector (left < W): the row's last, partial vector goes through the
// same vector code under a mask instead of a scalar loop (a causal row of n keys ends in
// n mod 8 of them; scalar, they cost as much as the rest of a short row).
inline __m256i tail(int left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

float exp_row(float* s, int n, float* inv_sum) {
  const int body = n / W * W;
  const __m256i k = tail(n - body);
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 mx = ninf;
  for (int j = 0; j < body; j += W) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + j));
  if (body < n) mx = _mm256_max_ps(mx, _mm256_blendv_ps(ninf, _mm256_maskload_ps(s + body, k), _mm256_castsi256_ps(k)));
  float m = -INFINITY;
  alignas(32) float lanes[W];
  _mm256_store_ps(lanes, mx);
  for (float v : lanes) m = v > m ? v : m;
  const __m256 vm = _mm256_set1_ps(m);
  __m256 sum = _mm256_setzero_ps();
  for (int j = 0; j < body; j += W) {
    const __m256 e = vexp(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    _mm256_storeu_ps(s + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (body < n) {
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(k), vexp(_mm256_sub_ps(_mm256_maskload_ps(s + body, k), vm)));
    _mm256_maskstore_ps(s + body, k, e);
    sum = _mm256_add_ps(sum, e);
  }
  _mm256_store_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  *inv_sum = 1.0f / total;
  return m + std::log(total);
}

void softmax_grad_row(float* p, float* dp, int n, float lse, float doo, float scale) {
  const __m256 l = _mm256_set1_ps(lse), d = _mm256_set1_ps(doo), sc = _mm256_set1_ps(scale);
  const int body = n / W * W;
  for (int j = 0; j < body; j += W) {
    const __m256 e = vexp(_mm256_sub_ps(_mm256_loadu_ps(p + j), l));
    _mm256_storeu_ps(p + j, e);
    _mm256_storeu_ps(dp + j, _mm256_mul_ps(_mm256_mul_ps(e, _mm256_sub_ps(_mm256_loadu_ps(dp + j), d)), sc));
  }
  if (body < n) {
    const __m256i k = tail(n - body);
    const __m256 e = vexp(_mm256_sub_ps(_mm256_maskload_ps(p + body, k), l));
    _mm256_maskstore_ps(p + body, k, e);
    _mm256_maskstore_ps(dp + body, k, _mm256_mul_ps(_mm256_mul_ps(e, _mm256_sub_ps(_mm256_maskload_ps(dp + body, k), d)), sc));
  }
}
}  // namespace avx2
#pragma GCC pop_options

namespace isa {
bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}
float exp_row_avx2(float* s, int n, float* inv_sum) { return avx2::exp_row(s, n, inv_sum); }
float exp_row_avx512(float* s, int n, float* inv_sum) { return avx512::exp_row(s, n, inv_sum); }
void softmax_grad_row_avx2(float* p, float* dp, int n, float lse, float doo, float scale) {
  avx2::softmax_grad_row(p, dp, n, lse, doo, scale);
}
void softmax_grad_row_avx512(float* p, float* dp, int n, float lse, float doo, float scale) {
  avx512::softmax_grad_row(p, dp, n, lse, doo, scale);
}
}  // namespace isa

float exp_row(float* s, int n, float* inv_sum) {
  return isa::has_avx512() ? avx512::exp_row(s, n, inv_sum) : avx2::exp_row(s, n, inv_sum);
}

float softmax_row(float* s, int n) {
  float inv;
  const float lse = exp_row(s, n, &inv);
  for (int j = 0; j < n; j++) s[j] *= inv;
  return lse;
}

void softmax_grad_row(float* p, float* dp, int n, float lse, float doo, float scale) {
  isa::has_avx512() ? avx512::softmax_grad_row(p, dp, n, lse, doo, scale) : avx2::softmax_grad_row(p, dp, n, lse, doo, scale);
}

}  // namespace aha::kernels
