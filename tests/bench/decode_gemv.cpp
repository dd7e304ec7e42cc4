// Decoding at batch 1 multiplies one or two rows by each weight matrix. Is that bound by
// oneDNN's per-call cost or by reading the weights? This times dnnl_sgemm against a plain
// AVX-512 loop that reads each weight row once for all M rows, on a pool of matrices
// larger than L2 (so weights come from L3, as in a decoding pass over a whole model).
// Build and run (not part of the test suite; needs an AVX-512 CPU):
//   g++ -O2 -std=c++20 tests/bench/decode_gemv.cpp -ldnnl -o /tmp/decode_gemv && OMP_NUM_THREADS=1 /tmp/decode_gemv
// Prints the median of 2,000 calls per shape (µs) and the weight bytes read per µs.
#include <dnnl.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;

// C[M, N] = A[M, K] · W[N, K]ᵀ for M <= 4, K a multiple of 16: one pass over W.
__attribute__((target("avx512f,fma"))) void rows_times_w(int M, int N, int K, const float* A, const float* W,
                                                         float* C) {
  for (int n = 0; n < N; n++) {
    const float* w = W + (size_t)n * K;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < K; k += 16) {
      const __m512 wv = _mm512_loadu_ps(w + k);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(A + k), wv, a0);
      if (M > 1) a1 = _mm512_fmadd_ps(_mm512_loadu_ps(A + K + k), wv, a1);
      if (M > 2) a2 = _mm512_fmadd_ps(_mm512_loadu_ps(A + 2 * K + k), wv, a2);
      if (M > 3) a3 = _mm512_fmadd_ps(_mm512_loadu_ps(A + 3 * K + k), wv, a3);
    }
    C[n] = _mm512_reduce_add_ps(a0);
    if (M > 1) C[N + n] = _mm512_reduce_add_ps(a1);
    if (M > 2) C[2 * N + n] = _mm512_reduce_add_ps(a2);
    if (M > 3) C[3 * N + n] = _mm512_reduce_add_ps(a3);
  }
}
}  // namespace

int main() {
  // (N, K): a d 128 expert's gate_up and down, q_a of d 256, a d 256 expert, the dense FFN
  const int shapes[][2] = {{128, 128}, {128, 64}, {96, 256}, {256, 256}, {768, 256}};
  std::printf("%-12s %2s %12s %12s %10s\n", "N x K", "M", "oneDNN us", "loop us", "GB/s");
  for (const auto& s : shapes) {
    const int N = s[0], K = s[1];
    const int pool = std::max(1, (int)(16e6 / (N * K * 4.0)));  // 16 MB of weights
    std::vector<float> W((size_t)pool * N * K, 0.01f), A(4 * K, 1.0f), C(4 * N);
    for (int M = 1; M <= 4; M *= 2) {
      double med[2];
      for (int impl = 0; impl < 2; impl++) {
        std::vector<double> us;
        for (int r = 0; r < 2000; r++) {
          const float* w = W.data() + (size_t)(r % pool) * N * K;
          const auto t0 = Clock::now();
          if (impl == 0) dnnl_sgemm('N', 'T', M, N, K, 1.0f, A.data(), K, w, K, 0.0f, C.data(), N);
          else rows_times_w(M, N, K, A.data(), w, C.data());
          us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
        std::nth_element(us.begin(), us.begin() + 1000, us.end());
        med[impl] = us[1000];
      }
      std::printf("%5d x %-4d %2d %12.2f %12.2f %10.1f\n", N, K, M, med[0], med[1], N * K * 4.0 / med[0] / 1e3);
    }
  }
}
