// PrecisionOps: a backend whose GEMMs take BF16 or FP8 inputs, as DeepSeek-V3 trains.
//
// Every GEMM of a Linear layer is one of three kinds, told apart by its operand layout
// (engine/linear.h):
//   Fprop  y = x·Wᵀ   (A [M,K], B [N,K])   x in 1×128 tiles, W in 128×128 blocks
//   Dgrad  dx = dy·W  (A [M,K], B [K,N])   dy in 1×128 tiles, W in 128×128 blocks
//   Wgrad  dW = dyᵀ·x (A [K,M], B [K,N])   dy and x in 128×1 tiles along the tokens
// Wgrad's x is what the forward cached: E4M3 in 1×128 tiles, re-tiled 128×1 (as V3).
// Each operand is quantised to E4M3 with those tiles (or rounded to BF16), dequantised,
// and multiplied by the wrapped FP32 backend: FP8 inputs with FP32 accumulation — V3's
// numbers with promotion, whose accumulation study is `aha fp8 study`. On the CPU this is
// an emulation: exact FP8 values, FP32 speed plus the quantisation passes.
// Everything else (attention core, norms, the router via high_precision(), embedding and
// head, which the model sends to the plain backend) runs in FP32.
#pragma once
#include <map>
#include <mutex>
#include <utility>
#include <string>
#include <vector>

#include "kernels/cpu/forwarding_ops.h"
#include "kernels/cpu/fp8_gemm.h"

namespace aha::kernels {

struct Fp8TensorStats {
  int layer = 0;
  std::string tensor;  // "x" (Fprop input), "w" (weight), "dy" (Dgrad input)
  double amax = 0, underflow = 0, overflow = 0;
  long values = 0;
};

class PrecisionOps : public ForwardingOps {
 public:
  PrecisionOps(Ops& inner, Precision p, bool pow2_scales = false) : ForwardingOps(inner), p_(p), pow2_(pow2_scales) {}
  Precision precision() const { return p_; }
  Ops& high_precision() override { return inner(); }
  void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
            int ldb, float beta, float* C, int ldc, Precision p) override;

  // The layer the following GEMMs belong to (for the per-layer FP8 statistics).
  void set_layer(int layer) { layer_ = layer; }
  // Statistics of the FP8 quantisations since the last call, per (layer, tensor):
  // largest |x|, share of non-zero values flushed to zero, share clipped.
  std::vector<Fp8TensorStats> take_stats();
  // Training forwards only (set by the model): stashes sealed are kept for a backward.
  // Otherwise a seal just returns the buffer (nothing will read it).
  void count_cache(bool on) { count_cache_ = on; }
  // Bytes of the stashes sealed since the last call: as FP32, and as held — E4M3 codes plus
  // an FP32 scale per 1×128 tile (FP8), or BF16 codes — while their float buffers go back
  // to the pool (stash.h).
  std::pair<double, double> take_cache_bytes();

  // Activations kept for Wgrad, held as V3 caches them (stash.h).
  float* stash_begin(Stash& s, int rows, int cols) override;
  void stash_seal(Stash& s) override;
  const float* stash_open(Stash& s) override;
  void stash_close(Stash& s) override;

 private:
  // One operand, stored [rows, cols] with leading dimension ld, quantised and dequantised
  // into `out` (compact, ld = cols).
  void fake_quantize(const float* x, int rows, int cols, int ld, int tile_r, int tile_c, const char* tensor,
                     std::vector<float>& out);
  Precision p_;
  bool pow2_;
  int layer_ = 0;
  std::mutex mu_;
  std::map<std::pair<int, std::string>, Fp8TensorStats> stats_;
  std::vector<float> qa_, qb_, cached_;
  bool count_cache_ = false;
  double cache_fp32_bytes_ = 0, cache_fp8_bytes_ = 0;
  // Float buffers lent to stashes while written or read; they never shrink, so the pool
  // settles at the few buffers a layer uses at once.
  std::vector<float> lend(size_t n);
  void give_back(std::vector<float>& b);
  bool from_stash(const float* p);  // p inside a buffer stash_open lent
  std::vector<std::vector<float>> pool_;
  std::vector<std::pair<const float*, size_t>> opened_;  // lent by stash_open: Wgrad's cached x
};

// x rounded to the nearest BF16 (ties to even), NaN kept.
float round_bf16(float x);

}  // namespace aha::kernels
