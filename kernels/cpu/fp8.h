// FP8 numbers as DeepSeek-V3 trains with them (OCP 8-bit floats):
//   E4M3 ("fn"): bias 7, largest 448, smallest normal 2^-6, smallest subnormal 2^-9,
//                no infinity, NaN = S.1111.111 — the format of every training GEMM input;
//   E5M2:        bias 15, largest 57344, smallest normal 2^-14, subnormal 2^-16, IEEE-like
//                infinities and NaNs — kept for comparison (V3 does not use it).
// Conversion from float rounds to nearest, ties to even, and saturates: values beyond the
// largest finite number (and infinities) become ± that number, NaN becomes the canonical
// NaN (0x7F). This is CUDA's host conversion __nv_cvt_float_to_fp8(x, __NV_SATFINITE, …),
// bit for bit (tests/test_fp8.cpp checks it against cuda_fp8.h).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace aha::kernels {

enum class Fp8Format { E4M3, E5M2 };

inline constexpr float kE4M3Max = 448.0f;
inline constexpr float kE5M2Max = 57344.0f;
inline constexpr float fp8_max(Fp8Format f) { return f == Fp8Format::E4M3 ? kE4M3Max : kE5M2Max; }

uint8_t fp8_from_float(float x, Fp8Format f);
float fp8_to_float(uint8_t v, Fp8Format f);  // exact: every FP8 value is a float

// Batch forms (the quantiser's inner loops).
void fp8_encode(const float* x, uint8_t* out, long n, Fp8Format f);
void fp8_decode(const uint8_t* v, float* out, long n, Fp8Format f);

// x rounded to the nearest E4M3 value (ties to even), saturating at ±448, as a float (the
// value fp8_to_float(fp8_from_float(x)) has, NaN aside). Normals: keep 3 of float's 23
// mantissa bits with round-to-nearest-even on the bit pattern; below 2^-6 (the subnormals,
// spacing 2^-9): nearbyint(x·512)/512, exact scalings around a ties-to-even rounding.
// Branch-free, so the quantisers' loops vectorise.
inline float round_e4m3(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  uint32_t r = u + 0x7FFFFu + ((u >> 20) & 1u);
  r &= 0xFFF00000u;
  float normal;
  std::memcpy(&normal, &r, 4);
  const float sub = std::copysign(std::nearbyint(x * 512.0f) * (1.0f / 512.0f), x);  // keeps -0
  const float y = std::fabs(x) < 0.015625f ? sub : normal;
  // saturate; NaN passes through (the comparisons are false for it)
  return y > kE4M3Max ? kE4M3Max : y < -kE4M3Max ? -kE4M3Max : y;
}

}  // namespace aha::kernels
