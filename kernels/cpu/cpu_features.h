// What the running CPU offers, and its measured FP32 peak (a short FMA probe).
#pragma once
#include <string>

namespace aha::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, avx512f = false;
  int threads = 1;          // OpenMP threads the engine uses
  std::string model;        // /proc/cpuinfo "model name"
  std::string simd() const { return avx512f ? "avx512" : (avx2 ? "avx2" : "sse"); }
};
CpuFeatures cpu_features();

// Measured FP32 FMA peak in GFLOP/s with all engine threads, using the widest
// vectors the CPU has (the best of 3 probes, ~25 ms in all). With a `cache_path`, the
// best figure ever seen for this CPU model, SIMD width and thread count is kept there
// and returned when it beats this probe (a busy machine only reads low). this_probe, when
// given, receives this call's own reading.
double measure_peak_gflops(const std::string& cache_path = "", double* this_probe = nullptr);
// Where the peak is cached: $HOME/.cache/aha/fma_peak.txt (the folder is created), or ""
// when there is no usable home directory (then every call measures).
std::string default_peak_cache();

}  // namespace aha::kernels
