// Writes tests/data/fp8_golden.txt from CUDA's own host conversion (cuda_fp8.h), so that
// test_fp8.cpp checks the engine's conversion against CUDA bit for bit even where the CUDA
// toolkit is not installed. Built only when cuda_fp8.h is found (target fp8_golden_gen).
// Each line: float bits, E4M3 code, E5M2 code (hex). The cases are every FP8 value of
// both formats, its float neighbours, the midpoints between neighbouring FP8 values and
// their neighbours (where rounding decides), specials, and random bit patterns.
#include <cuda_fp8.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>

#include "kernels/cpu/fp8.h"

using aha::kernels::Fp8Format;

static uint32_t bits_of(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }

int main(int argc, char** argv) {
  std::set<uint32_t> cases;
  auto add = [&](float x) {
    for (float y : {x, std::nextafter(x, INFINITY), std::nextafter(x, -INFINITY)}) {
      cases.insert(bits_of(y));
      cases.insert(bits_of(-y));
    }
  };
  for (Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2}) {
    float prev = 0;
    for (int v = 0; v < 128; v++) {  // positive codes in increasing order
      const float x = aha::kernels::fp8_to_float(uint8_t(v), f);
      if (std::isnan(x) || std::isinf(x)) continue;
      add(x);
      add((prev + x) / 2);  // the tie between neighbours
      prev = x;
    }
    const float m = aha::kernels::fp8_max(f);
    for (float x : {m * 1.03125f, m * 1.0625f, m * 1.07f, m * 2, m * 1e10f}) add(x);
  }
  for (float x : {0.0f, INFINITY, NAN, 1e-45f, 1e-38f, 3.4e38f}) add(x);
  cases.insert(0x7FC00001u), cases.insert(0xFFC00000u), cases.insert(0x7F800001u);  // other NaNs
  std::mt19937 rng(20261129);
  for (int i = 0; i < 3000; i++) cases.insert(rng());
  FILE* out = std::fopen(argc > 1 ? argv[1] : "fp8_golden.txt", "w");
  if (!out) return 1;
  std::fprintf(out, "# float_bits e4m3 e5m2 — from cuda_fp8.h __nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...)\n");
  for (uint32_t u : cases) {
    float x;
    std::memcpy(&x, &u, 4);
    std::fprintf(out, "%08x %02x %02x\n", u, (unsigned)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3),
                 (unsigned)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2));
  }
  std::fclose(out);
  std::printf("%zu cases\n", cases.size());
  return 0;
}
