#include "kernels/cpu/precision_ops.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace aha::kernels {

float round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return x;  // NaN stays NaN
  u += 0x7FFFu + ((u >> 16) & 1u);                 // round to nearest, ties to even
  u &= 0xFFFF0000u;
  float y;
  std::memcpy(&y, &u, 4);
  return y;
}

void PrecisionOps::fake_quantize(const float* x, int rows, int cols, int ld, int tile_r, int tile_c,
                                 const char* tensor, std::vector<float>& out) {
  out.resize((size_t)rows * cols);
  if (p_ == Precision::BF16) {
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < cols; c++) out[(size_t)r * cols + c] = round_bf16(x[(size_t)r * ld + c]);
    return;
  }
  Fp8Stats st;
  fp8_fake_quantize(x, rows, cols, ld, tile_r, tile_c, pow2_, out.data(), tensor ? &st : nullptr);
  if (!tensor) return;
  std::lock_guard<std::mutex> lock(mu_);
  Fp8TensorStats& s = stats_[{layer_, tensor}];
  s.layer = layer_;
  s.tensor = tensor;
  s.amax = std::max(s.amax, st.amax);
  // running shares weighted by the values quantised
  const double n0 = (double)s.values, n1 = (double)st.count;
  if (n0 + n1 > 0) {
    s.underflow = (s.underflow * n0 + st.underflow * n1) / (n0 + n1);
    s.overflow = (s.overflow * n0 + st.overflow * n1) / (n0 + n1);
  }
  s.values += st.count;
}

void PrecisionOps::gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
                        const float* B, int ldb, float beta, float* C, int ldc, Precision p) {
  if (p_ == Precision::FP32) return in_.gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, p);
  // stored shapes: A is [M,K] or (transA) [K,M]; B is [K,N] or (transB) [N,K]
  const int a_rows = transA ? K : M, a_cols = transA ? M : K;
  const int b_rows = transB ? N : K, b_cols = transB ? K : N;
  if (!transA && transB) {         // Fprop: x 1×128 along K, W 128×128
    fake_quantize(A, a_rows, a_cols, lda, 1, 128, "x", qa_);
    fake_quantize(B, b_rows, b_cols, ldb, 128, 128, "w", qb_);
  } else if (!transA && !transB) { // Dgrad: dy 1×128 along K (= out), W 128×128
    fake_quantize(A, a_rows, a_cols, lda, 1, 128, "dy", qa_);
    fake_quantize(B, b_rows, b_cols, ldb, 128, 128, nullptr, qb_);
  } else {                         // Wgrad: both 128×1 along the tokens (K, their rows)
    fake_quantize(A, a_rows, a_cols, lda, 128, 1, nullptr, qa_);
    if (p_ == Precision::FP8 && !from_stash(B)) {
      // x as the FP8 cache the forward keeps (1×128 tiles), re-tiled 128×1 here; a stash
      // opened for this Wgrad already holds exactly those values
      fake_quantize(B, b_rows, b_cols, ldb, 1, 128, nullptr, cached_);
      fake_quantize(cached_.data(), b_rows, b_cols, b_cols, 128, 1, nullptr, qb_);
    } else {
      fake_quantize(B, b_rows, b_cols, ldb, 128, 1, nullptr, qb_);
    }
  }
  in_.gemm(transA, transB, M, N, K, alpha, qa_.data(), a_cols, qb_.data(), b_cols, beta, C, ldc, Precision::FP32);
}

bool PrecisionOps::from_stash(const float* p) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [b, n] : opened_)
    if (p >= b && p < b + n) return true;
  return false;
}

std::vector<float> PrecisionOps::lend(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  // the smallest buffer that fits, else the largest (grown)
  int best = -1, largest = -1;
  for (int i = 0; i < (int)pool_.size(); i++) {
    const size_t sz = pool_[i].size();
    if (sz >= n && (best < 0 || sz < pool_[best].size())) best = i;
    if (largest < 0 || sz > pool_[largest].size()) largest = i;
  }
  if (best < 0) best = largest;
  std::vector<float> b;
  if (best >= 0) {
    b.swap(pool_[best]);
    pool_.erase(pool_.begin() + best);
  }
  if (b.size() < n) b.resize(n);
  return b;
}

void PrecisionOps::give_back(std::vector<float>& b) {
  if (b.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  pool_.push_back(std::move(b));
  b = std::vector<float>();
}

float* PrecisionOps::stash_begin(Stash& s, int rows, int cols) {
  if (p_ == Precision::FP32) return ForwardingOps::stash_begin(s, rows, cols);
  s.rows = rows;
  s.cols = cols;
  if (s.f32.size() < s.values()) {  // a buffer held from an FP32 forward goes to the pool
    give_back(s.f32);
    s.f32 = lend(s.values());
  }
  s.form = Stash::Form::Float;
  return s.f32.data();
}

void PrecisionOps::stash_seal(Stash& s) {
  if (p_ == Precision::FP32) return ForwardingOps::stash_seal(s);
  if (!count_cache_) {  // no backward will read it
    give_back(s.f32);
    s.codes.clear();
    s.scales.clear();
    s.form = Stash::Form::Empty;
    return;
  }
  if (p_ == Precision::FP8) stash_encode_fp8(s, s.f32.data(), pow2_);
  else stash_encode_bf16(s, s.f32.data());
  give_back(s.f32);
  std::lock_guard<std::mutex> lock(mu_);
  cache_fp32_bytes_ += 4.0 * (double)s.values();
  cache_fp8_bytes_ += (double)s.held_bytes();
}

const float* PrecisionOps::stash_open(Stash& s) {
  if (s.form == Stash::Form::Float) return s.f32.data();
  if (s.form == Stash::Form::Empty)
    throw std::logic_error("PrecisionOps: a stash was opened that no training forward sealed");
  s.f32 = lend(s.values());
  stash_decode(s, s.f32.data());
  std::lock_guard<std::mutex> lock(mu_);
  opened_.emplace_back(s.f32.data(), s.values());
  return s.f32.data();
}

void PrecisionOps::stash_close(Stash& s) {
  if (s.form == Stash::Form::Float || s.f32.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < opened_.size(); i++)
      if (opened_[i].first == s.f32.data()) { opened_.erase(opened_.begin() + (ptrdiff_t)i); break; }
  }
  give_back(s.f32);
}

std::pair<double, double> PrecisionOps::take_cache_bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::pair<double, double> out{cache_fp32_bytes_, cache_fp8_bytes_};
  cache_fp32_bytes_ = cache_fp8_bytes_ = 0;
  return out;
}

std::vector<Fp8TensorStats> PrecisionOps::take_stats() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Fp8TensorStats> out;
  for (auto& [key, s] : stats_) out.push_back(s);
  stats_.clear();
  return out;
}

}  // namespace aha::kernels
