// Runs the rest of a scope with one OpenMP thread, as a data-parallel replica's kernels
// run (the fast backend then takes its single-thread paths: packed_gemm, one-thread
// attention scratch); the thread count is restored on every exit, exceptions included.
#pragma once
#include <omp.h>

namespace aha::test {

struct OneOmpThread {
  int saved = omp_get_max_threads();
  OneOmpThread() { omp_set_num_threads(1); }
  ~OneOmpThread() { omp_set_num_threads(saved); }
  OneOmpThread(const OneOmpThread&) = delete;
  OneOmpThread& operator=(const OneOmpThread&) = delete;
};

}  // namespace aha::test
