// DeepSeek-V3's fine-grained FP8 quantisation and an exact emulation of its GEMMs.
//
// Quantisation: a [rows, cols] float matrix is cut into tiles of tile_r × tile_c (edges
// may be partial: sizes need not be multiples of 128); each tile gets one scale
// s = amax / 448 (optionally rounded up to a power of two, so that dividing by it is exact
// and the FP8 grid is not shifted), and stores q = fp8(x / s). Activations use 1×128 tiles
// (per token, per 128 channels), weights 128×128 blocks, and for Wgrad both operands
// 128×1 tiles along the tokens — each GEMM operand is tiled by 128 along its contraction
// dimension, so one (row, 128-chunk of K) has one scale on each side.
//
// GEMM: C[m,n] = Σ_k A[m,k]·B[n,k] with A, B quantised as above (K is the contraction).
// Products of two E4M3 numbers are exact in float (4-bit × 4-bit significands). What
// differs between hardware is how they are summed:
//   Fp32:      every product added into an FP32 accumulator — the precision ceiling;
//   Limited:   the tensor core alone (H800): each MMA step aligns its products and the
//              running sum to the largest exponent among them and keeps 13 fraction bits,
//              truncating the rest, and the sum itself stays in that "FP22" — no promotion;
//   Promote:   V3's fix: Limited within each chunk of N_C = 128 K-elements, then the chunk's
//              sum is scaled (s_A · s_B) and added to an FP32 accumulator on the CUDA cores.
// In Fp32 and Limited the scales are applied per chunk as well (they change every 128).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cpu/fp8.h"

namespace aha::kernels {

struct Fp8Tiles {
  int rows = 0, cols = 0, tile_r = 1, tile_c = 128;
  Fp8Format format = Fp8Format::E4M3;
  std::vector<uint8_t> q;      // [rows, cols] codes
  std::vector<float> scale;    // [ceil(rows/tile_r), ceil(cols/tile_c)]
  int tiles_r() const { return (rows + tile_r - 1) / tile_r; }
  int tiles_c() const { return (cols + tile_c - 1) / tile_c; }
  float scale_at(int r, int c) const { return scale[(size_t)(r / tile_r) * tiles_c() + c / tile_c]; }
  float value(int r, int c) const { return fp8_to_float(q[(size_t)r * cols + c], format) * scale_at(r, c); }
};

// What quantisation did to one tensor (for the run store's per-layer FP8 rows).
struct Fp8Stats {
  double amax = 0;       // largest |x|
  double underflow = 0;  // share of non-zero x that became 0
  double overflow = 0;   // share of x clipped at the largest FP8 value (0 with amax scaling)
  long count = 0;
};

// x[rows, cols] (leading dimension ld, 0 = cols) → tiles. An all-zero tile gets scale 1.
Fp8Tiles fp8_quantize(const float* x, int rows, int cols, int tile_r, int tile_c, bool pow2_scale = false,
                      Fp8Format f = Fp8Format::E4M3, Fp8Stats* stats = nullptr, int ld = 0);
// out[rows, cols] = q · scale
void fp8_dequantize(const Fp8Tiles& t, float* out);

// The same numbers as fp8_dequantize(fp8_quantize(x, …)) — bit for bit — without the
// codes: each value rounded onto the scaled E4M3 grid in place, with float bit operations
// that vectorise (the training path's quantiser; fp8_quantize's per-value conversion is
// the readable reference). out must not alias x.
void fp8_fake_quantize(const float* x, int rows, int cols, int ld, int tile_r, int tile_c, bool pow2_scale,
                       float* out, Fp8Stats* stats = nullptr);

enum class Fp8Accum { Fp32, Limited, Promote };
const char* fp8_accum_name(Fp8Accum a);  // "fp32", "limited", "promote128"

// C[M,N] = A[M,K] · B[N,K]ᵀ for A and B quantised with tile_c == 128 (K chunks) — see above.
// acc_bits: fraction bits the limited accumulator keeps (13: H800); mma_k: K-elements one
// MMA step adds (32 for FP8 WGMMA). Throws std::invalid_argument on mismatched operands.
void fp8_gemm(const Fp8Tiles& A, const Fp8Tiles& B, float* C, Fp8Accum mode, int acc_bits = 13, int mma_k = 32);

// The same product in double from the same quantised values: the exact answer the modes
// are measured against.
void fp8_gemm_reference(const Fp8Tiles& A, const Fp8Tiles& B, double* C);

}  // namespace aha::kernels
