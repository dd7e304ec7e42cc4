// Every one of the 2^32 float bit patterns through the engine's FP8 conversion and CUDA's
// (cuda_fp8.h, __NV_SATFINITE), both formats. A command (about 2 minutes on one core):
//   build/release/tests/fp8_exhaustive
#include <cuda_fp8.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "kernels/cpu/fp8.h"

using namespace aha::kernels;

int main() {
  unsigned long long bad_e4m3 = 0, bad_e5m2 = 0;
  for (uint64_t b = 0; b < (1ull << 32); b++) {
    const uint32_t u = (uint32_t)b;
    float x;
    std::memcpy(&x, &u, 4);
    if (fp8_from_float(x, Fp8Format::E4M3) != (uint8_t)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)) {
      if (bad_e4m3++ < 5) std::printf("E4M3 differs at %08x\n", u);
    }
    if (fp8_from_float(x, Fp8Format::E5M2) != (uint8_t)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2)) {
      if (bad_e5m2++ < 5) std::printf("E5M2 differs at %08x\n", u);
    }
  }
  std::printf("{\"floats\": 4294967296, \"e4m3_mismatches\": %llu, \"e5m2_mismatches\": %llu}\n", bad_e4m3, bad_e5m2);
  return bad_e4m3 || bad_e5m2 ? 1 : 0;
}
