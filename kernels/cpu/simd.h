// Runtime dispatch for the CPU kernels, and the few math helpers they share.
//
// Release builds target x86-64-v3 (AVX2 + FMA). AHA_CLONES asks GCC for a second,
// AVX-512 (x86-64-v4) copy of a hot loop; the loader's ifunc resolver picks the
// copy the running CPU supports, so one binary uses AVX-512 where it exists and
// AVX2 everywhere else. OpenBLAS does the same for its GEMMs (DYNAMIC_ARCH).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define AHA_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define AHA_CLONES
#endif

namespace aha::kernels {

// exp(x) for float in a form GCC vectorises (no libm call in the loop): 2^(x·log2 e)
// split into an integer power of two and a degree-6 polynomial on [-0.5, 0.5].
// Relative error < 2e-7 over [-87, 88]; inputs below -87 give 0.
inline float fast_expf(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float t = x * 1.44269504088896341f;
  float n = (t + 12582912.0f) - 12582912.0f;  // round to nearest (1.5·2^23 trick, vectorises)
  float f = (t - n) * 0.693147180559945309f;  // ln 2 · fraction, |f| <= 0.347
  float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 + f * (1.0f / 720))))));
  int32_t e = (int32_t)n + 127;
  e = e < 1 ? 1 : e;
  uint32_t bits = (uint32_t)e << 23;
  float s;
  std::memcpy(&s, &bits, 4);
  float r = p * s;
  return x <= -87.0f ? 0.0f : r;
}

}  // namespace aha::kernels
