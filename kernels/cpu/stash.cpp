#include "kernels/cpu/stash.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/cpu/fp8.h"
#include "kernels/cpu/precision_ops.h"

namespace aha::kernels {

uint8_t e4m3_code_on_grid(float y) {
  uint32_t u;
  std::memcpy(&u, &y, 4);
  const uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
  const int e = (int)(a >> 23) - 127;                                       // unbiased exponent
  const uint32_t normal = (uint32_t)((e + 7) << 3) | ((a >> 20) & 7u);        // E4M3 bias 7, 3 mantissa bits
  const uint32_t sub = (uint32_t)(std::fabs(y) * 512.0f);                    // m · 2^-9, m = 0 .. 7 (zero too)
  const uint32_t code = a > 0x7F800000u ? 0x7Fu : e >= -6 ? normal : sub;   // NaN: the canonical one
  return (uint8_t)(sign | code);
}

namespace {
const std::array<float, 256>& e4m3_table() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> v{};
    for (int i = 0; i < 256; i++) v[i] = fp8_to_float((uint8_t)i, Fp8Format::E4M3);
    return v;
  }();
  return t;
}
}  // namespace

void stash_encode_fp8(Stash& s, const float* x, bool pow2_scale) {
  const int tiles = (s.cols + 127) / 128;
  s.codes.resize(s.values());
  s.scales.resize((size_t)s.rows * tiles);
  // One row (token) at a time: its 1×128 tiles' maxima, then every value against its
  // tile's scale — the arithmetic of fp8_fake_quantize, so decoding matches it bit for bit.
#pragma omp parallel for schedule(static)
  for (int r = 0; r < s.rows; r++) {
    const float* row = x + (size_t)r * s.cols;
    uint8_t* q = s.codes.data() + (size_t)r * s.cols;
    for (int tc = 0; tc < tiles; tc++) {
      const int c0 = tc * 128, c1 = std::min(s.cols, c0 + 128);
      float m = 0.0f;
      for (int c = c0; c < c1; c++) m = std::max(m, std::fabs(row[c]));
      float sc = m > 0 ? m / kE4M3Max : 1.0f;
      if (pow2_scale && m > 0) sc = std::ldexp(1.0f, (int)std::ceil(std::log2(sc)));
      s.scales[(size_t)r * tiles + tc] = sc;
      const float iv = 1.0f / sc;
      if (pow2_scale)
        for (int c = c0; c < c1; c++) q[c] = e4m3_code_on_grid(round_e4m3(row[c] * iv));
      else
        for (int c = c0; c < c1; c++) q[c] = e4m3_code_on_grid(round_e4m3(row[c] / sc));
    }
  }
  s.form = Stash::Form::Fp8;
}

void stash_encode_bf16(Stash& s, const float* x) {
  const size_t n = s.values();
  s.codes.resize(2 * n);
  s.scales.clear();
  uint16_t* q = reinterpret_cast<uint16_t*>(s.codes.data());
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float b = round_bf16(x[i]);
    uint32_t u;
    std::memcpy(&u, &b, 4);
    q[i] = (uint16_t)(u >> 16);
  }
  s.form = Stash::Form::Bf16;
}

void stash_decode(const Stash& s, float* out) {
  if (s.form == Stash::Form::Fp8) {
    const auto& t = e4m3_table();
    const int tiles = (s.cols + 127) / 128;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < s.rows; r++) {
      const uint8_t* q = s.codes.data() + (size_t)r * s.cols;
      float* o = out + (size_t)r * s.cols;
      for (int tc = 0; tc < tiles; tc++) {
        const float sc = s.scales[(size_t)r * tiles + tc];
        for (int c = tc * 128, e = std::min(s.cols, c + 128); c < e; c++) o[c] = t[q[c]] * sc;
      }
    }
  } else if (s.form == Stash::Form::Bf16) {
    const uint16_t* q = reinterpret_cast<const uint16_t*>(s.codes.data());
    const size_t n = s.values();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
      const uint32_t u = (uint32_t)q[i] << 16;
      std::memcpy(out + i, &u, 4);
    }
  } else if (s.form == Stash::Form::Float) {
    std::copy(s.f32.begin(), s.f32.begin() + (ptrdiff_t)s.values(), out);
  }
}

}  // namespace aha::kernels
