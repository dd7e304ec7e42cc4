// Stash: a GEMM input that the backward reads only as a weight-gradient (Wgrad) operand —
// the normed inputs of the attention projections, the SwiGLU down-projection inputs, the
// gathered expert inputs. Between forward and backward the backend decides the form it is
// held in (Ops::stash_*): the FP32 backends keep the floats; PrecisionOps keeps what
// DeepSeek-V3 caches — E4M3 codes with one FP32 scale per 1×128 tile (BF16 codes in BF16
// mode) — and lends float buffers from a pool only while the values are being written or
// read, so the saving is memory the process really does not hold.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace aha::kernels {

struct Stash {
  enum class Form { Empty, Float, Fp8, Bf16 };
  Form form = Form::Empty;
  int rows = 0, cols = 0;
  std::vector<float> f32;      // [rows, cols] while held (Float) or lent (written / read)
  std::vector<uint8_t> codes;  // Fp8: [rows, cols] E4M3; Bf16: [rows, cols] × 2 bytes
  std::vector<float> scales;   // Fp8: [rows, ceil(cols / 128)]
  size_t values() const { return (size_t)rows * cols; }
  // bytes the stash holds between forward and backward (its codes and scales, or floats)
  size_t held_bytes() const {
    return form == Form::Float ? values() * 4 : codes.size() + scales.size() * sizeof(float);
  }
};

// x[rows, cols] → E4M3 codes and one scale per 1×128 tile (amax / 448, or its power of two
// above), the same numbers fp8_fake_quantize(x, …, 1, 128, …) produces: decoding gives its
// output bit for bit.
void stash_encode_fp8(Stash& s, const float* x, bool pow2_scale);
// x[rows, cols] → BF16 codes (round to nearest even, as round_bf16).
void stash_encode_bf16(Stash& s, const float* x);
// out[rows, cols] = the values a compressed stash holds.
void stash_decode(const Stash& s, float* out);

// The E4M3 code of a value already on the E4M3 grid (|y| ≤ 448, a multiple of its ulp):
// bit operations only, so loops over it vectorise. Exact for every such value.
uint8_t e4m3_code_on_grid(float y);

}  // namespace aha::kernels
