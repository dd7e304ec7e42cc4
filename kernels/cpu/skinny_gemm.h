// Products with a handful of rows: C[M, N] = alpha · A[M, K] · B[N, K]ᵀ + beta · C for
// M ≤ kSkinnyRows. This is decoding's shape — one to four new tokens per pass (a token and
// its MTP drafts) times a weight stored [out, in] — where a library GEMM either runs a
// GEMV (M = 1) or packs both operands as for a large product (M ≥ 2). On an AVX2 EPYC,
// oneDNN's two-row product of a 480×160 weight cost 2.4× its one-row product, so a
// speculative pass of two tokens cost twice a plain one. This kernel reads each weight
// row once for all M rows: a row of B is loaded once per W floats and multiplied into M
// accumulators, so an extra row costs FMAs, not another pass over the weights.
//
//   A row-major [M, lda], B row-major [N, ldb] (a Linear weight [out, in]), C [M, ldc].
#pragma once

namespace aha::kernels {

constexpr int kSkinnyRows = 4;

// Single-threaded; beta == 0 overwrites C (it is not read).
void skinny_gemm_nt(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                    float beta, float* C, int ldc);

}  // namespace aha::kernels
