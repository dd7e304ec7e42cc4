// A packed, cache-blocked single-thread SGEMM for AVX2 + FMA machines (Goto / BLIS
// structure: pack a KC-deep block of op(B) and op(A), then a 6×16 register-tile
// microkernel). It exists because oneDNN 2.x's AVX2 sgemm reaches only 55–70 GFLOP/s of
// a Zen 3 core's ~100 on the weight-gradient products of a training step (TN, K = the
// batch's tokens); prefer_packed_gemm() below says where each wins.
//
//   C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C     (row-major, BLAS conventions)
//
// Runs on the calling thread only: the training step calls it from inside its
// data-parallel region, one replica per core. beta == 0 never reads C.
#pragma once

namespace aha::kernels {

// true where this build and this CPU have the kernel (AVX2 + FMA)
bool packed_gemm_available();

void packed_gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc);

// Whether a single-thread product of this shape should run here rather than in oneDNN.
// Measured inside `tiny` training steps on a Zen 3 core (ABBA pairs of
// `aha bench train tiny --steps 10 --profile`, ms per step summed over both replicas):
// the weight gradients (TN, K = tokens) with both sides ≥ 128 win — 1536×256×1024
// 25.5 → 20.0, 256×256×1024 7.95 → 6.60, 256×768×1024 11.3 → 10.3, the routed experts'
// 128×256×K 24.6 → 23.8 — and so do the widest forward/backward products (N ≥ 512: the
// dense FFN's and the head's); oneDNN keeps the narrow ones (N ≤ 128, or K = 64), where
// packing A costs more per FLOP (each element feeds 2·N of them) and it was 3–20% faster.
inline bool prefer_packed_gemm(bool transA, int M, int N, int K) {
  if (transA) return M >= 128 && N >= 128 && K >= 256;
  return N >= 512 && K >= 128;
}

}  // namespace aha::kernels
