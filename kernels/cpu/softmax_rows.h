// The per-row exponentials of attention and cross-entropy, vectorised by hand with
// AVX-512 or AVX2 intrinsics (picked at run time). GCC's vectorisation of the scalar
// fast_expf (simd.h) ran at ~0.65 ns per element with 256-bit vectors, a sixth of a
// training step's attention time; these take ~0.15 ns (a vector exp is ~12 instructions
// for 16 floats). Results agree with fast_expf to a few ulp, not bit for bit.
#pragma once

namespace aha::kernels {

// s[j] = exp(s[j] − m) for j < n, m = max_j s[j] (entries of −inf give exactly 0).
// Returns m + log Σ_j exp(s[j] − m), the row's log-sum-exp; *inv_sum = 1 / that sum.
float exp_row(float* s, int n, float* inv_sum);

// Softmax of one row in place (s already scaled), returning its log-sum-exp.
float softmax_row(float* s, int n);

// The softmax backward of one attention row from its saved log-sum-exp lse:
//   p[j] = exp(p[j] − lse),  dp[j] = p[j] · (dp[j] − doo) · scale   for j < n
// (p holds the recomputed scaled scores; −inf marks a hidden key: p = dp = 0 there).
void softmax_grad_row(float* p, float* dp, int n, float lse, float doo, float scale);

// The two instruction-set bodies, for tests (the functions above pick one by CPUID; the
// AVX-512 ones must only be called where the CPU has AVX-512F).
namespace isa {
float exp_row_avx2(float* s, int n, float* inv_sum);
float exp_row_avx512(float* s, int n, float* inv_sum);
void softmax_grad_row_avx2(float* p, float* dp, int n, float lse, float doo, float scale);
void softmax_grad_row_avx512(float* p, float* dp, int n, float lse, float doo, float scale);
bool has_avx512();
}  // namespace isa

}  // namespace aha::kernels
