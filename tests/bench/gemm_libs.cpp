// Measures single-precision GEMM libraries on the shapes a `tiny` training step runs
// (taken from `aha bench train tiny --profile`), to choose the CPU GEMM backend.
// Build and run (not part of the test suite):
//   g++ -O2 -std=c++20 -fopenmp tests/bench/gemm_libs.cpp -o /tmp/gemm_libs \
//     -I/usr/include/x86_64-linux-gnu/openblas-openmp -L/usr/lib/x86_64-linux-gnu/openblas-openmp \
//     -lopenblas -ldnnl -l:libblis.so.4 && /tmp/gemm_libs
// Prints GFLOP/s per library and shape, with 1 and 2 threads.
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <vector>

extern "C" void bli_sgemm(int transa, int transb, long m, long n, long k, const float* alpha,
                          const float* a, long rsa, long csa, const float* b, long rsb, long csb,
                          const float* beta, float* c, long rsc, long csc);
extern "C" void bli_thread_set_num_threads(long n);
// BLIS trans_t values
constexpr int BLIS_NO_TRANSPOSE = 0, BLIS_TRANSPOSE = 8;

struct Shape { char ta, tb; int M, N, K; const char* what; };

template <class F>
double gflops(const Shape& s, F&& f) {
  for (int i = 0; i < 3; i++) f();
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    auto t0 = std::chrono::steady_clock::now();
    const int reps = 10;
    for (int i = 0; i < reps; i++) f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
  }
  return 2.0 * s.M * s.N * s.K / best / 1e9;
}

int main() {
  const Shape shapes[] = {
      {'N', 'T', 2048, 256, 64, "kv_b fwd"},       {'T', 'N', 256, 64, 2048, "kv_b dW"},
      {'N', 'T', 2048, 96, 256, "q_a fwd"},        {'N', 'T', 2048, 192, 96, "q_b fwd"},
      {'N', 'T', 2048, 128, 256, "shared gate_up"}, {'N', 'T', 512, 128, 256, "expert gate_up"},
      {'N', 'T', 512, 256, 64, "expert down"},     {'T', 'N', 128, 256, 512, "expert dW"},
      {'N', 'T', 2048, 1536, 256, "dense gate_up"}, {'N', 'T', 2048, 176, 256, "q_a+kv_a fused"},
  };
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    bli_thread_set_num_threads(threads);
    std::printf("threads=%d\n%-16s %-20s %10s %10s %10s\n", threads, "shape", "M N K", "openblas", "blis", "onednn");
    for (const Shape& s : shapes) {
      std::vector<float> A((size_t)s.M * s.K, 0.5f), B((size_t)s.N * s.K, 0.25f), C((size_t)s.M * s.N);
      const int lda = s.ta == 'N' ? s.K : s.M, ldb = s.tb == 'N' ? s.N : s.K;
      const float one = 1.0f, zero = 0.0f;
      double ob = gflops(s, [&] {
        cblas_sgemm(CblasRowMajor, s.ta == 'T' ? CblasTrans : CblasNoTrans, s.tb == 'T' ? CblasTrans : CblasNoTrans,
                    s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N);
      });
      // BLIS takes row and column strides: row-major A[M,K] has rs=lda, cs=1
      double bl = gflops(s, [&] {
        bli_sgemm(s.ta == 'T' ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s.tb == 'T' ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                  s.M, s.N, s.K, &one, A.data(), lda, 1, B.data(), ldb, 1, &zero, C.data(), s.N, 1);
      });
      double dn = gflops(s, [&] {
        dnnl_sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N);
      });
      char dims[32];
      std::snprintf(dims, sizeof dims, "%c%c %d %d %d", s.ta, s.tb, s.M, s.N, s.K);
      std::printf("%-16s %-20s %10.1f %10.1f %10.1f\n", s.what, dims, ob, bl, dn);
    }
  }
}
