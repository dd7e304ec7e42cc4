// A register-blocked GEMM for the many small products inside causal attention
// (64-row query blocks against ≤ 1024 keys, head dims 16–192). Library GEMMs pay a
// dispatch and packing cost per call that dominates at these sizes (measured: attention
// ran at ~75 GFLOP/s through oneDNN, thousands of calls per step); this kernel has none,
// and it skips the tiles that causality makes zero.
//
//   C[M,N] = alpha · A[M,K] · B[K,N] (+ C when accumulate)
//   A element (i,k) at A[i·ars + k·acs] (so Aᵀ is just swapped strides), B and C row-major.
// Causal limits, per tile of rows [i0, i1) (all optional):
//   columns computed: [0, min(N, i1 + n_end_off)) at least (rounded up to whole vectors);
//                     the rest of those rows is left alone
//   k range:          [max(0, i0 + k_begin_off), min(K, i1 + k_end_off))
#pragma once
#include <climits>

namespace aha::kernels {

struct TileLimits {
  int n_end_off = INT_MAX / 2;
  int k_begin_off = -INT_MAX / 2;
  int k_end_off = INT_MAX / 2;
};

void small_gemm(int M, int N, int K, float alpha, const float* A, long ars, long acs,
                const float* B, int ldb, float* C, int ldc, bool accumulate,
                const TileLimits& lim = {});

}  // namespace aha::kernels
