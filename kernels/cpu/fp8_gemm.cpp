#include "kernels/cpu/fp8_gemm.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <stdexcept>
#include <string>

namespace aha::kernels {

Fp8Tiles fp8_quantize(const float* x, int rows, int cols, int tile_r, int tile_c, bool pow2_scale, Fp8Format f,
                      Fp8Stats* stats, int ld) {
  if (rows < 0 || cols < 0 || tile_r < 1 || tile_c < 1) throw std::invalid_argument("fp8_quantize: bad shape or tile");
  if (ld == 0) ld = cols;
  Fp8Tiles t;
  t.rows = rows, t.cols = cols, t.tile_r = tile_r, t.tile_c = tile_c, t.format = f;
  t.q.resize((size_t)rows * cols);
  t.scale.assign((size_t)t.tiles_r() * t.tiles_c(), 1.0f);
  const float fmax = fp8_max(f);
  // beyond the largest value plus half its step, a value is clipped rather than rounded
  const float clip_at = fmax + std::ldexp(1.0f, std::ilogb(fmax) - (f == Fp8Format::E4M3 ? 3 : 2) - 1);
  long zeroed = 0, clipped = 0, nonzero = 0;
  double amax_all = 0;
  for (int tr = 0; tr < t.tiles_r(); tr++)
    for (int tc = 0; tc < t.tiles_c(); tc++) {
      const int r0 = tr * tile_r, r1 = std::min(rows, r0 + tile_r), c0 = tc * tile_c, c1 = std::min(cols, c0 + tile_c);
      float amax = 0;
      for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) amax = std::max(amax, std::fabs(x[(size_t)r * ld + c]));
      amax_all = std::max(amax_all, (double)amax);
      float s = amax > 0 ? amax / fmax : 1.0f;
      // a power of two at least amax/448: x/s is then exact and nothing overflows
      if (pow2_scale && amax > 0) s = std::ldexp(1.0f, (int)std::ceil(std::log2(s)));
      t.scale[(size_t)tr * t.tiles_c() + tc] = s;
      const float inv = 1.0f / s;
      for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) {
          const float v = x[(size_t)r * ld + c];
          // x·(1/s) rather than x/s: one rounding either way; V3's kernels multiply too
          const float scaled = pow2_scale ? v * inv : v / s;
          const uint8_t code = fp8_from_float(scaled, f);
          t.q[(size_t)r * cols + c] = code;
          if (v != 0) {
            nonzero++;
            zeroed += (code & 0x7F) == 0;
            clipped += std::fabs(scaled) > clip_at;
          }
        }
    }
  if (stats) {
    stats->amax = amax_all;
    stats->count = (long)rows * cols;
    stats->underflow = nonzero ? (double)zeroed / nonzero : 0.0;
    stats->overflow = nonzero ? (double)clipped / nonzero : 0.0;
  }
  return t;
}


void fp8_fake_quantize(const float* x, int rows, int cols, int ld, int tile_r, int tile_c, bool pow2_scale,
                       float* out, Fp8Stats* stats) {
  if (ld == 0) ld = cols;
  const int tr_n = (rows + tile_r - 1) / tile_r, tc_n = (cols + tile_c - 1) / tile_c;
  const float clip_at = kE4M3Max + 16.0f;
  long zeroed = 0, clipped = 0, nonzero = 0;
  double amax_all = 0;
  // One band of tile_r rows at a time, always read along the rows (contiguous), so 128×1
  // tiles (Wgrad) cost what 1×128 tiles cost: the band's column-tile maxima first, then
  // every value against its tile's scale.
#pragma omp parallel reduction(+ : zeroed, clipped, nonzero) reduction(max : amax_all)
  {
  std::vector<float> amax(tc_n), scale(tc_n), inv(tc_n);  // per thread, reused by its bands
#pragma omp for schedule(static)
  for (int tr = 0; tr < tr_n; tr++) {
    const int r0 = tr * tile_r, r1 = std::min(rows, r0 + tile_r);
    std::fill(amax.begin(), amax.end(), 0.0f);
    for (int r = r0; r < r1; r++) {
      const float* row = x + (size_t)r * ld;
      if (tile_c == 1) {
        for (int c = 0; c < cols; c++) amax[c] = std::max(amax[c], std::fabs(row[c]));
      } else {
        for (int tc = 0; tc < tc_n; tc++) {
          float m = amax[tc];
          for (int c = tc * tile_c, e = std::min(cols, c + tile_c); c < e; c++) m = std::max(m, std::fabs(row[c]));
          amax[tc] = m;
        }
      }
    }
    for (int tc = 0; tc < tc_n; tc++) {
      amax_all = std::max(amax_all, (double)amax[tc]);
      float s = amax[tc] > 0 ? amax[tc] / kE4M3Max : 1.0f;
      if (pow2_scale && amax[tc] > 0) s = std::ldexp(1.0f, (int)std::ceil(std::log2(s)));
      scale[tc] = s;
      inv[tc] = 1.0f / s;
    }
    for (int r = r0; r < r1; r++) {
      const float* row = x + (size_t)r * ld;
      float* o = out + (size_t)r * cols;
      if (tile_c == 1) {  // a scale per column
        for (int c = 0; c < cols; c++) o[c] = round_e4m3(pow2_scale ? row[c] * inv[c] : row[c] / scale[c]) * scale[c];
      } else {            // a scale per segment of tile_c columns: tight loops that vectorise
        for (int tc = 0; tc < tc_n; tc++) {
          const float sc = scale[tc], iv = inv[tc];
          const int c0 = tc * tile_c, c1 = std::min(cols, c0 + tile_c);
          if (pow2_scale)
            for (int c = c0; c < c1; c++) o[c] = round_e4m3(row[c] * iv) * sc;
          else
            for (int c = c0; c < c1; c++) o[c] = round_e4m3(row[c] / sc) * sc;  // as fp8_quantize
        }
      }
      if (!stats) continue;
      for (int c = 0; c < cols; c++) {
        const float v = row[c];
        if (v == 0) continue;
        const int tc = tile_c == 1 ? c : c / tile_c;
        nonzero++;
        zeroed += o[c] == 0.0f;
        clipped += std::fabs(pow2_scale ? v * inv[tc] : v / scale[tc]) > clip_at;
      }
    }
  }
  }
  if (stats) {
    stats->amax = amax_all;
    stats->count = (long)rows * cols;
    stats->underflow = nonzero ? (double)zeroed / nonzero : 0.0;
    stats->overflow = nonzero ? (double)clipped / nonzero : 0.0;
  }
}

void fp8_dequantize(const Fp8Tiles& t, float* out) {
  for (int r = 0; r < t.rows; r++)
    for (int c = 0; c < t.cols; c++) out[(size_t)r * t.cols + c] = t.value(r, c);
}

const char* fp8_accum_name(Fp8Accum a) {
  switch (a) {
    case Fp8Accum::Fp32: return "fp32";
    case Fp8Accum::Limited: return "limited";
    case Fp8Accum::Promote: return "promote128";
  }
  return "?";
}

namespace {

void check_operands(const Fp8Tiles& A, const Fp8Tiles& B) {
  if (A.cols != B.cols) throw std::invalid_argument("fp8_gemm: A has K = " + std::to_string(A.cols) + ", B has K = " + std::to_string(B.cols));
  if (A.tile_c != 128 || B.tile_c != 128)
    throw std::invalid_argument("fp8_gemm: both operands must be tiled by 128 along K (got " + std::to_string(A.tile_c) +
                                " and " + std::to_string(B.tile_c) + ")");
}

// Keeps `bits` fraction bits of v relative to the binade 2^e (truncation toward zero): the
// alignment shifter of the tensor core drops what falls below.
inline double truncate_to(double v, int e, int bits) {
  const double quantum = std::ldexp(1.0, e - bits);
  return std::trunc(v / quantum) * quantum;
}

// One MMA step of the limited accumulator: acc + Σ products, all aligned to the largest
// exponent among them, each truncated to `bits` fraction bits there; the sum is exact
// (it fits) and is then kept with `bits` fraction bits of its own binade.
inline double mma_step(double acc, const double* p, int n, int bits) {
  double mx = std::fabs(acc);
  for (int i = 0; i < n; i++) mx = std::max(mx, std::fabs(p[i]));
  if (mx == 0) return 0;
  int e;
  std::frexp(mx, &e);
  e -= 1;  // mx in [2^e, 2^(e+1))
  double s = truncate_to(acc, e, bits);
  for (int i = 0; i < n; i++) s += truncate_to(p[i], e, bits);
  if (s == 0) return 0;
  int es;
  std::frexp(s, &es);
  return truncate_to(s, es - 1, bits);
}

}  // namespace

void fp8_gemm(const Fp8Tiles& A, const Fp8Tiles& B, float* C, Fp8Accum mode, int acc_bits, int mma_k) {
  check_operands(A, B);
  const int M = A.rows, N = B.rows, K = A.cols, chunks = (K + 127) / 128;
  const Fp8Format fa = A.format, fb = B.format;
  std::vector<double> prod(mma_k);
#pragma omp parallel for schedule(static) firstprivate(prod)
  for (int m = 0; m < M; m++) {
    for (int n = 0; n < N; n++) {
      float acc32 = 0.0f;  // the FP32 accumulator (Fp32 and Promote)
      double limited = 0;  // the tensor core's FP22 accumulator (Limited: never promoted)
      for (int ch = 0; ch < chunks; ch++) {
        const int k0 = ch * 128, k1 = std::min(K, k0 + 128);
        const float sa = A.scale_at(m, k0), sb = B.scale_at(n, k0);
        const uint8_t* qa = &A.q[(size_t)m * K];
        const uint8_t* qb = &B.q[(size_t)n * K];
        if (mode == Fp8Accum::Fp32) {
          for (int k = k0; k < k1; k++)  // each exact product, scaled, into FP32
            acc32 += fp8_to_float(qa[k], fa) * fp8_to_float(qb[k], fb) * (sa * sb);
          continue;
        }
        // raw products (exact), summed by MMA steps of mma_k in the limited accumulator;
        // Limited keeps one running sum in scaled units: the chunk scale multiplies each
        // product (a tensor core without promotion applies per-tensor scales; per-chunk
        // scales need the promotion step, so Limited gets exact scaling for free here)
        double part = mode == Fp8Accum::Limited ? limited : 0.0;
        const double scale = mode == Fp8Accum::Limited ? (double)sa * sb : 1.0;
        for (int k = k0; k < k1; k += mma_k) {
          const int n_k = std::min(mma_k, k1 - k);
          for (int i = 0; i < n_k; i++)
            prod[i] = (double)fp8_to_float(qa[k + i], fa) * fp8_to_float(qb[k + i], fb) * scale;
          part = mma_step(part, prod.data(), n_k, acc_bits);
        }
        if (mode == Fp8Accum::Limited) limited = part;
        else acc32 += (float)part * (sa * sb);  // promotion: scale and add on the CUDA cores
      }
      C[(size_t)m * N + n] = mode == Fp8Accum::Limited ? (float)limited : acc32;
    }
  }
}

void fp8_gemm_reference(const Fp8Tiles& A, const Fp8Tiles& B, double* C) {
  check_operands(A, B);
  const int M = A.rows, N = B.rows, K = A.cols;
#pragma omp parallel for schedule(static)
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)A.value(m, k) * B.value(n, k);
      C[(size_t)m * N + n] = s;
    }
}

}  // namespace aha::kernels
