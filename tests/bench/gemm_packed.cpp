// packed_gemm (kernels/cpu/packed_gemm.h) against oneDNN's dnnl_sgemm on the products of
// a `tiny` training step, one thread, hot operands (best of 20 calls each, interleaved),
// with the largest difference between the two results. Which shapes the fast backend
// sends to packed_gemm is prefer_packed_gemm(); this shows the kernel itself, not the step
// (in the step the operands come back from memory: see tests/bench/ab_train.sh --profile).
// Build and run (not part of the test suite; after `cmake --build --preset release`):
//   g++ -O2 -std=c++20 -fopenmp -I. tests/bench/gemm_packed.cpp \
//     build/release/kernels/cpu/libaha_kernels.a -ldnnl -o /tmp/gemm_packed && OMP_NUM_THREADS=1 /tmp/gemm_packed
#include <dnnl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/cpu/packed_gemm.h"

using namespace aha::kernels;

int main() {
  struct Shape { bool ta, tb; int M, N, K; const char* what; };
  const Shape shapes[] = {
      {true, false, 1536, 256, 1024, "dense gate_up dW"},  {true, false, 256, 768, 1024, "dense down dW"},
      {true, false, 256, 256, 1024, "MTP eh_proj dW (half)"},  {true, false, 128, 256, 1024, "expert gate_up dW"},
      {true, false, 256, 128, 1024, "o_proj dW"},             {true, false, 256, 64, 1024, "kv_b / expert down dW"},
      {true, false, 96, 256, 1024, "q_a dW"},              {false, true, 1024, 1536, 256, "dense gate_up fwd"},
      {false, false, 1024, 256, 1536, "dense gate_up dX"}, {false, false, 1024, 768, 256, "dense down dX"},
      {false, true, 1024, 256, 128, "o_proj fwd"},         {false, true, 1024, 128, 256, "expert gate_up fwd"},
      {false, false, 1024, 64, 256, "kv_b dX"}};
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::printf("%-22s %-3s %5s %5s %5s  %9s %9s  %s\n", "product", "op", "M", "N", "K", "oneDNN", "packed", "max |diff|");
  for (const Shape& s : shapes) {
    std::vector<float> A((size_t)s.M * s.K), B((size_t)s.K * s.N), C1((size_t)s.M * s.N), C2(C1.size());
    for (float& x : A) x = u(gen);
    for (float& x : B) x = u(gen);
    const int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
    double t1 = 1e300, t2 = 1e300;
    for (int r = 0; r < 20; r++) {
      auto t0 = std::chrono::steady_clock::now();
      dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C1.data(), s.N);
      t1 = std::min(t1, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      t0 = std::chrono::steady_clock::now();
      packed_gemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C2.data(), s.N);
      t2 = std::min(t2, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    double diff = 0;
    for (size_t i = 0; i < C1.size(); i++) diff = std::max(diff, (double)std::fabs(C1[i] - C2[i]));
    const double flops = 2.0 * s.M * s.N * s.K;
    std::printf("%-22s %c%c  %5d %5d %5d  %9.1f %9.1f  %.1e%s\n", s.what, s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M,
                s.N, s.K, flops / t1 / 1e9, flops / t2 / 1e9, diff,
                prefer_packed_gemm(s.ta, s.M, s.N, s.K) ? "   (step: packed)" : "");
  }
  std::printf("GFLOP/s, 1 thread, hot operands\n");
}
