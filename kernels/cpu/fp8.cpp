#include "kernels/cpu/fp8.h"

#include <array>
#include <cmath>
#include <cstring>

namespace aha::kernels {

namespace {

struct Layout {
  int mbits;     // stored mantissa bits
  int bias;
  int emin;      // exponent of the smallest normal
  float max;     // largest finite value
};
constexpr Layout layout(Fp8Format f) {
  return f == Fp8Format::E4M3 ? Layout{3, 7, -6, kE4M3Max} : Layout{2, 15, -14, kE5M2Max};
}

// The 256 values of each format, built once from the bit layout.
std::array<float, 256> build_table(Fp8Format f) {
  const Layout L = layout(f);
  std::array<float, 256> t{};
  for (int v = 0; v < 256; v++) {
    const int sign = v >> 7, exp = (v >> L.mbits) & ((1 << (7 - L.mbits)) - 1), man = v & ((1 << L.mbits) - 1);
    const int exp_all_ones = (1 << (7 - L.mbits)) - 1;
    float x;
    if (f == Fp8Format::E4M3 && exp == exp_all_ones && man == (1 << L.mbits) - 1) {
      x = std::nanf("");  // E4M3: only S.1111.111 is NaN; S.1111.xxx are numbers up to 448
    } else if (f == Fp8Format::E5M2 && exp == exp_all_ones) {
      x = man == 0 ? INFINITY : std::nanf("");
    } else if (exp == 0) {
      x = std::ldexp(float(man), L.emin - L.mbits);  // subnormal: 0.man × 2^emin
    } else {
      x = std::ldexp(float((1 << L.mbits) | man), exp - L.bias - L.mbits);
    }
    t[v] = sign ? -x : x;
  }
  return t;
}
const std::array<float, 256>& table(Fp8Format f) {
  static const std::array<float, 256> e4m3 = build_table(Fp8Format::E4M3);
  static const std::array<float, 256> e5m2 = build_table(Fp8Format::E5M2);
  return f == Fp8Format::E4M3 ? e4m3 : e5m2;
}

}  // namespace

uint8_t fp8_from_float(float x, Fp8Format f) {
  const Layout L = layout(f);
  if (std::isnan(x)) return 0x7F;  // the canonical NaN of both formats (sign dropped, as CUDA does)
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const uint8_t sign = uint8_t((bits >> 31) << 7);
  float a = std::fabs(x);
  // The quantum (spacing) of FP8 numbers at a's binade, never below the subnormal one.
  // a / quantum is exact in float (a power-of-two division), so nearbyint rounds the true
  // value to nearest-even; the result may step into the next binade, which is still exact.
  int e;
  std::frexp(a, &e);  // a = m · 2^e, m in [0.5, 1): the leading bit is 2^(e-1)
  const int lead = std::max(e - 1, L.emin);
  const float quantum = std::ldexp(1.0f, lead - L.mbits);
  float r = std::isinf(a) ? INFINITY : std::nearbyint(a / quantum) * quantum;
  if (r > L.max) r = L.max;  // saturate (infinities too)
  if (r == 0.0f) return sign;
  // encode the exactly representable r
  std::frexp(r, &e);
  int exp = e - 1;
  uint8_t code;
  if (exp < L.emin) {  // subnormal
    code = uint8_t(std::lround(std::ldexp(r, L.mbits - L.emin)));
  } else {
    const int man = int(std::lround(std::ldexp(r, L.mbits - exp))) - (1 << L.mbits);
    code = uint8_t(((exp + L.bias) << L.mbits) | man);
  }
  return uint8_t(code | sign);
}

float fp8_to_float(uint8_t v, Fp8Format f) { return table(f)[v]; }

void fp8_encode(const float* x, uint8_t* out, long n, Fp8Format f) {
  for (long i = 0; i < n; i++) out[i] = fp8_from_float(x[i], f);
}

void fp8_decode(const uint8_t* v, float* out, long n, Fp8Format f) {
  const auto& t = table(f);
  for (long i = 0; i < n; i++) out[i] = t[v[i]];
}

}  // namespace aha::kernels
