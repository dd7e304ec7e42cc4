// small_gemm for AVX-512 and AVX2: the same microkernel (small_gemm_impl.inc) compiled
// twice under `#pragma GCC target`, chosen once at run time from CPUID.
#include "kernels/cpu/small_gemm.h"

#include <immintrin.h>

#include <algorithm>

namespace aha::kernels {

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
using vec = __m512;
constexpr int W = 16;
constexpr int kAcc = 24, kMaxNV = 4;  // 32 zmm registers: 24 accumulators + B vectors + a broadcast
inline vec zero() { return _mm512_setzero_ps(); }
inline vec load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
inline vec bcast(const float* p) { return _mm512_set1_ps(*p); }
inline vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
#include "kernels/cpu/small_gemm_impl.inc"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using vec = __m256;
constexpr int W = 8;
constexpr int kAcc = 12, kMaxNV = 2;  // 16 ymm registers: 12 accumulators + 2 B vectors + a broadcast
inline vec zero() { return _mm256_setzero_ps(); }
inline vec load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
inline vec bcast(const float* p) { return _mm256_broadcast_ss(p); }
inline vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
#include "kernels/cpu/small_gemm_impl.inc"
}  // namespace avx2
#pragma GCC pop_options

void small_gemm(int M, int N, int K, float alpha, const float* A, long ars, long acs,
                const float* B, int ldb, float* C, int ldc, bool accumulate,
                const TileLimits& lim) {
  static const bool has_avx512 = __builtin_cpu_supports("avx512f");
  if (has_avx512)
    avx512::run(M, N, K, alpha, A, ars, acs, B, ldb, C, ldc, accumulate, lim);
  else
    avx2::run(M, N, K, alpha, A, ars, acs, B, ldb, C, ldc, accumulate, lim);
}

}  // namespace aha::kernels
