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
#include <cstdint>

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

}  // namespace aha::kernels
