// Where a training step's GEMMs get their operands from, and what that costs: oneDNN's
// sgemm on one thread on shapes of a `tiny` step (as `aha bench train tiny --profile`
// names them), with operands hot in cache, and after a 1 GB sweep has pushed them out to
// memory. In the data-parallel step the per-thread profile shows 105-163 GFLOP/s on these
// shapes; this says whether that is the kernels or the memory system.
// Build and run (not part of the test suite; 64-byte-aligned operands, as the engine's):
//   g++ -O2 -std=c++20 tests/bench/gemm_cache.cpp -ldnnl -o /tmp/gemm_cache && OMP_NUM_THREADS=1 /tmp/gemm_cache
#include <dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main() {
  struct Shape { char ta, tb; int M, N, K; const char* what; };
  const Shape shapes[] = {
      {'N', 'T', 1024, 1536, 256, "dense gate_up forward"}, {'T', 'N', 1536, 256, 1024, "dense gate_up dW"},
      {'N', 'N', 1024, 256, 1536, "dense down dX"},         {'N', 'T', 1024, 256, 64, "expert down forward"},
      {'T', 'N', 256, 64, 1024, "expert dW"},               {'N', 'T', 1024, 128, 256, "expert gate_up forward"}};
  const size_t floats = 2u << 20;  // 8 MB per operand: more than any of these needs
  float* A = static_cast<float*>(std::aligned_alloc(64, floats * 4));
  float* B = static_cast<float*>(std::aligned_alloc(64, floats * 4));
  float* C = static_cast<float*>(std::aligned_alloc(64, floats * 4));
  for (size_t i = 0; i < floats; i++) { A[i] = 0.01f * (i % 7); B[i] = 0.02f * (i % 5); C[i] = 0.0f; }
  std::vector<float> sweep((size_t)256 << 20, 1.0f);  // 1 GB
  std::printf("%-24s %-22s %10s %14s\n", "shape", "", "hot", "from memory");
  for (const Shape& s : shapes) {
    const int lda = s.ta == 'N' ? s.K : s.M, ldb = s.tb == 'N' ? s.N : s.K;
    auto run = [&] {
      const auto t0 = std::chrono::steady_clock::now();
      dnnl_sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A, lda, B, ldb, 0.0f, C, s.N);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    double hot = 1e9, cold = 1e9;
    for (int r = 0; r < 20; r++) hot = std::min(hot, run());
    for (int r = 0; r < 5; r++) {
      for (size_t i = 0; i < sweep.size(); i += 16) sweep[i] += 1.0f;  // one write per cache line
      cold = std::min(cold, run());
    }
    const double f = 2.0 * s.M * s.N * s.K / 1e9;
    char name[64];
    std::snprintf(name, sizeof name, "%c%c %dx%dx%d", s.ta, s.tb, s.M, s.N, s.K);
    std::printf("%-24s %-22s %6.1f GFLOP/s %6.1f GFLOP/s\n", name, s.what, f / hot, f / cold);
  }
  std::printf("(sweep checksum %.0f)\n", (double)sweep[0]);
  std::free(A);
  std::free(B);
  std::free(C);
}
