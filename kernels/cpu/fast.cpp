// The fast CPU backend. GEMMs go to oneDNN's sgemm (OpenMP build: the same thread pool
// as the loops below, so no oversubscription; inside a parallel loop it runs on the
// calling thread) or, for the wide single-thread ones on AVX2, to packed_gemm.h;
// attention is in attention.cpp. The fused ops are OpenMP loops whose
// inner loops GCC vectorises twice (AVX2 and AVX-512, picked at run time — simd.h).
// Every op here is checked against ReferenceOps by tests/test_ops.cpp.
//
// Determinism: static schedules and per-row outputs only; the one cross-row sum
// (rmsnorm's weight gradient) goes through per-thread partials reduced in thread
// order, so results are bit-identical for a given thread count.
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cpu/fast.h"
#include "kernels/cpu/aligned.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/packed_gemm.h"
#include "kernels/cpu/skinny_gemm.h"
#include "kernels/cpu/small_gemm.h"
#include "kernels/cpu/softmax_rows.h"
#include "engine/error.h"

namespace aha::kernels {

// Elementwise loops smaller than this many floats run on the calling thread: a fork/join
// of the OpenMP team costs microseconds, which is what a whole row takes. Decoding at
// batch 1 calls these ops on one or two rows about 40 times a token, and at 2 threads
// every call forked the team for nothing.
constexpr size_t kParallelMin = 16384;

namespace {

// Row-major C = alpha op(A) op(B) + beta C through oneDNN. Returns false on failure
// (only for invalid arguments) so that callers inside a parallel region can report it
// after the region instead of throwing across OpenMP.
inline bool sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
  return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) ==
         dnnl_success;
}

AHA_CLONES void rmsnorm_rows(float* out, float* rstd, const float* inp, const float* weight,
                             int n0, int n1, int C, float eps) {
  for (int n = n0; n < n1; n++) {
    const float* x = inp + (size_t)n * C;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; c++) ss += x[c] * x[c];
    float r = 1.0f / std::sqrt(ss / C + eps);
    rstd[n] = r;
    float* o = out + (size_t)n * C;
    for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
  }
}

AHA_CLONES void rmsnorm_back_rows(float* dinp, float* dw, const float* dout, const float* inp,
                                  const float* weight, const float* rstd, int n0, int n1, int C) {
  for (int n = n0; n < n1; n++) {
    const float* x = inp + (size_t)n * C;
    const float* dy = dout + (size_t)n * C;
    float r = rstd[n];
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int c = 0; c < C; c++) dot += dy[c] * weight[c] * x[c];
    float coef = r * r * r * dot / C;
    float* dx = dinp + (size_t)n * C;
    for (int c = 0; c < C; c++) {
      dx[c] = r * dy[c] * weight[c] - x[c] * coef;
      dw[c] += dy[c] * x[c] * r;
    }
  }
}

AHA_CLONES void swiglu_rows(float* h, const float* gu, int n0, int n1, int I) {
  for (int n = n0; n < n1; n++) {
    const float* a = gu + (size_t)n * 2 * I;
    const float* u = a + I;
    float* o = h + (size_t)n * I;
    for (int i = 0; i < I; i++) o[i] = a[i] / (1.0f + fast_expf(-a[i])) * u[i];
  }
}

AHA_CLONES void swiglu_back_rows(float* dgu, const float* dh, const float* gu, int n0, int n1,
                                 int I) {
  for (int n = n0; n < n1; n++) {
    const float* a = gu + (size_t)n * 2 * I;
    const float* u = a + I;
    const float* d = dh + (size_t)n * I;
    float* da = dgu + (size_t)n * 2 * I;
    float* du = da + I;
    for (int i = 0; i < I; i++) {
      float sg = 1.0f / (1.0f + fast_expf(-a[i]));
      float ai = a[i], ui = u[i], di = d[i];
      da[i] = di * ui * sg * (1.0f + ai * (1.0f - sg));
      du[i] = di * ai * sg;
    }
  }
}

AHA_CLONES void adamw_range(float* p, const float* g, float* m, float* v, size_t i0, size_t i1,
                            float lr, float b1, float b2, float eps, float wd, float bc1,
                            float bc2, float gscale) {
  const float ib1 = 1.0f / bc1, ib2 = 1.0f / bc2;
  for (size_t i = i0; i < i1; i++) {
    float gi = g[i] * gscale;
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi * ib1 / (std::sqrt(vi * ib2) + eps) + wd * p[i]);
  }
}

// [begin, end) of thread `t` of `nt` over n items, in contiguous static blocks.
inline void split(size_t n, int t, int nt, size_t& b, size_t& e) {
  b = n * t / nt;
  e = n * (t + 1) / nt;
}

}  // namespace

void CpuOps::gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                  int lda, const float* B, int ldb, float beta, float* C, int ldc, Precision) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS leaves C untouched when K == 0 only for beta == 1
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
    return;
  }
  if (!transA && transB && (M == 2 || M == 3)) {
    // decoding's two- and three-token passes (a token and its MTP drafts) times a weight
    // [out, in]: one pass over the weight for all rows (skinny_gemm.h). oneDNN keeps M = 1
    // (its GEMV is as fast) and M >= 4 (its packed GEMM wins from there, measured on AVX2).
    skinny_gemm_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // On AVX2 machines the wide weight-gradient products run faster in packed_gemm
  // (packed_gemm.h); it is single-threaded, so only where the caller is (inside the
  // data-parallel region or with one thread). AVX-512 machines keep oneDNN's wider kernel.
  static const bool packed = packed_gemm_available() && !cpu_features().avx512f;
  if (packed && prefer_packed_gemm(transA, M, N, K) && (omp_in_parallel() || omp_get_max_threads() == 1)) {
    packed_gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  AHA_CHECK(sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc),
            "sgemm rejected M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
}

void CpuOps::axpy(float* y, const float* x, float a, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void CpuOps::copy2d(float* dst, int ldd, const float* src, int lds, int rows, int cols, bool add) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols > 65536)
  for (int r = 0; r < rows; r++) {
    float* d = dst + (size_t)r * ldd;
    const float* s = src + (size_t)r * lds;
    if (add)
      for (int c = 0; c < cols; c++) d[c] += s[c];
    else
      std::memcpy(d, s, sizeof(float) * cols);
  }
}

void CpuOps::rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N,
                             int C, float eps) {
#pragma omp parallel if ((size_t)N * C >= kParallelMin)
  {
    size_t b, e;
    split(N, omp_get_thread_num(), omp_get_num_threads(), b, e);
    rmsnorm_rows(out, rstd, inp, weight, (int)b, (int)e, C, eps);
  }
}

void CpuOps::rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                              const float* weight, const float* rstd, int N, int C) {
  const int nt = omp_get_max_threads();
  std::vector<float> partial((size_t)nt * C, 0.0f);
#pragma omp parallel num_threads(nt) if ((size_t)N * C >= kParallelMin)
  {
    size_t b, e;
    const int t = omp_get_thread_num();
    split(N, t, omp_get_num_threads(), b, e);
    rmsnorm_back_rows(dinp, partial.data() + (size_t)t * C, dout, inp, weight, rstd, (int)b, (int)e, C);
  }
  for (int t = 0; t < nt; t++)
    for (int c = 0; c < C; c++) dweight[c] += partial[(size_t)t * C + c];
}

namespace {
// cos/sin of position × frequency for one (theta, R), positions 0 .. size-1, [pos, R/2],
// computed in double like the reference and stored in float. Tables are shared by every
// call (training calls rope 28 times a step, decoding 12 times a token): recomputing them
// per call cost 26% of a decoding step. A larger table replaces a smaller one; callers
// hold the shared_ptr they got, so a concurrent replacement never frees it under them.
struct RopeTable {
  int positions = 0, half = 0;
  std::vector<float> cs, sn;
};
std::shared_ptr<const RopeTable> rope_table(float theta, int R, int need) {
  static std::mutex mu;
  static std::map<std::pair<float, int>, std::shared_ptr<const RopeTable>> tables;
  std::lock_guard<std::mutex> lock(mu);
  auto& t = tables[{theta, R}];
  if (t && t->positions >= need) return t;
  auto nt = std::make_shared<RopeTable>();
  nt->half = R / 2;
  nt->positions = std::max(need, t ? 2 * t->positions : 1024);
  nt->cs.resize((size_t)nt->positions * nt->half);
  nt->sn.resize((size_t)nt->positions * nt->half);
  for (int j = 0; j < nt->half; j++) {
    const double freq = std::pow((double)theta, -2.0 * j / R);
    for (int p = 0; p < nt->positions; p++) {
      nt->cs[(size_t)p * nt->half + j] = (float)std::cos(p * freq);
      nt->sn[(size_t)p * nt->half + j] = (float)std::sin(p * freq);
    }
  }
  t = nt;
  return t;
}
}  // namespace

void CpuOps::rope(float* x, int ld, int off, int R, const int* pos, int rows_per_pos, int N,
                  float theta, bool inverse) {
  const int npos = (N + rows_per_pos - 1) / rows_per_pos, half = R / 2;
  int maxp = 0;
  for (int i = 0; i < npos; i++) maxp = std::max(maxp, pos[i]);
  const std::shared_ptr<const RopeTable> t = rope_table(theta, R, maxp + 1);
  const float sign = inverse ? -1.0f : 1.0f;  // the inverse rotation: sin negated (exactly)
#pragma omp parallel for schedule(static) if (N > 1024)
  for (int n = 0; n < N; n++) {
    float* v = x + (size_t)n * ld + off;
    const float* c = t->cs.data() + (size_t)pos[n / rows_per_pos] * half;
    const float* sv = t->sn.data() + (size_t)pos[n / rows_per_pos] * half;
    for (int j = 0; j < half; j++) {
      const float a = v[2 * j], bb = v[2 * j + 1], sj = sign * sv[j];
      v[2 * j] = a * c[j] - bb * sj;
      v[2 * j + 1] = a * sj + bb * c[j];
    }
  }
}

void CpuOps::mla_expand_kv(float* k, float* v, const float* kv, const float* kpe, int N, int H,
                           int dn, int dr, int dv) {
#pragma omp parallel for schedule(static) if ((size_t)N * H * (dn + dr + dv) >= kParallelMin)
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++) {
      const float* src = kv + ((size_t)n * H + h) * (dn + dv);
      float* kd = k + ((size_t)n * H + h) * (dn + dr);
      std::memcpy(kd, src, sizeof(float) * dn);
      std::memcpy(kd + dn, kpe + (size_t)n * dr, sizeof(float) * dr);
      std::memcpy(v + ((size_t)n * H + h) * dv, src + dn, sizeof(float) * dv);
    }
}

void CpuOps::mla_expand_kv_backward(float* dkv, float* dkpe, const float* dk, const float* dv,
                                    int N, int H, int dn, int dr, int dv_dim) {
#pragma omp parallel for schedule(static) if ((size_t)N * H * (dn + dr + dv_dim) >= kParallelMin)
  for (int n = 0; n < N; n++) {
    float* pe = dkpe + (size_t)n * dr;
    std::fill(pe, pe + dr, 0.0f);
    for (int h = 0; h < H; h++) {
      float* d = dkv + ((size_t)n * H + h) * (dn + dv_dim);
      const float* kd = dk + ((size_t)n * H + h) * (dn + dr);
      std::memcpy(d, kd, sizeof(float) * dn);
      std::memcpy(d + dn, dv + ((size_t)n * H + h) * dv_dim, sizeof(float) * dv_dim);
      for (int i = 0; i < dr; i++) pe[i] += kd[dn + i];
    }
  }
}

void CpuOps::swiglu_forward(float* h, const float* gu, int N, int I) {
#pragma omp parallel if ((size_t)N * I >= kParallelMin)
  {
    size_t b, e;
    split(N, omp_get_thread_num(), omp_get_num_threads(), b, e);
    swiglu_rows(h, gu, (int)b, (int)e, I);
  }
}

void CpuOps::swiglu_backward(float* dgu, const float* dh, const float* gu, int N, int I) {
#pragma omp parallel if ((size_t)N * I >= kParallelMin)
  {
    size_t b, e;
    split(N, omp_get_thread_num(), omp_get_num_threads(), b, e);
    swiglu_back_rows(dgu, dh, gu, (int)b, (int)e, I);
  }
}

void CpuOps::gather_rows(float* dst, const float* src, const int32_t* idx, const float* w, int M,
                         int C) {
#pragma omp parallel for schedule(static) if ((size_t)M * C > 32768)
  for (int m = 0; m < M; m++) {
    float* d = dst + (size_t)m * C;
    const float* sv = src + (size_t)idx[m] * C;
    if (!w) { std::memcpy(d, sv, sizeof(float) * C); continue; }
    const float wm = w[m];
    for (int c = 0; c < C; c++) d[c] = wm * sv[c];
  }
}

void CpuOps::scatter_add_rows(float* dst, const float* src, const int32_t* idx, const float* w,
                              int M, int C) {
  // Rows of dst may repeat in idx: split the columns between threads instead of the rows,
  // so each dst element is summed by one thread in the order of m.
#pragma omp parallel if ((size_t)M * C >= kParallelMin)
  {
    size_t c0, c1;
    split(C, omp_get_thread_num(), omp_get_num_threads(), c0, c1);
    for (int m = 0; m < M; m++) {
      const float wm = w ? w[m] : 1.0f;
      float* d = dst + (size_t)idx[m] * C;
      const float* sv = src + (size_t)m * C;
      for (size_t c = c0; c < c1; c++) d[c] += wm * sv[c];
    }
  }
}

void CpuOps::gather_rowdot(float* out, const float* a, const int32_t* idx, const float* b, int M,
                           int C) {
#pragma omp parallel for schedule(static) if ((size_t)M * C > 32768)
  for (int m = 0; m < M; m++) {
    const float* x = a + (size_t)idx[m] * C;
    const float* y = b + (size_t)m * C;
    float d = 0.0f;
#pragma omp simd reduction(+ : d)
    for (int c = 0; c < C; c++) d += x[c] * y[c];
    out[m] = d;
  }
}

void CpuOps::xent_forward(float* loss, const float* logits, const int32_t* target, int N, int V) {
  const int nt = omp_get_max_threads();
  std::vector<float> rows((size_t)V * nt);  // outside the region: no throw inside it
#pragma omp parallel num_threads(nt) if ((size_t)N * V >= kParallelMin)
  {
    float* row = rows.data() + (size_t)V * omp_get_thread_num();
#pragma omp for schedule(static)
    for (int n = 0; n < N; n++) {
      if (target[n] < 0) { loss[n] = 0.0f; continue; }
      std::memcpy(row, logits + (size_t)n * V, sizeof(float) * V);
      loss[n] = softmax_row(row, V) - logits[(size_t)n * V + target[n]];
    }
  }
}

void CpuOps::xent_backward(float* dlogits, const float* logits, const int32_t* target,
                           const float* dloss, int N, int V) {
#pragma omp parallel for schedule(static) if ((size_t)N * V >= kParallelMin)
  for (int n = 0; n < N; n++) {
    float* d = dlogits + (size_t)n * V;
    if (target[n] < 0) { std::fill(d, d + V, 0.0f); continue; }
    if (d != logits + (size_t)n * V) std::memcpy(d, logits + (size_t)n * V, sizeof(float) * V);
    softmax_row(d, V);
    const float g = dloss[n];
    for (int i = 0; i < V; i++) d[i] *= g;
    d[target[n]] -= g;
  }
}

void CpuOps::adamw(float* p, const float* g, float* m, float* v, size_t n, float lr, float b1,
                   float b2, float eps, float wd, float bc1, float bc2, float gscale) {
#pragma omp parallel if (n > 16384)
  {
    size_t b, e;
    split(n, omp_get_thread_num(), omp_get_num_threads(), b, e);
    adamw_range(p, g, m, v, b, e, lr, b1, b2, eps, wd, bc1, bc2, gscale);
  }
}

namespace {
AHA_CLONES double sumsq_range(const float* x, size_t b, size_t e) {
  // float partial sums over blocks of 1024 (vectorised), added up in double
  double s = 0.0;
  for (size_t i = b; i < e; i += 1024) {
    const size_t end = std::min(e, i + 1024);
    float p = 0.0f;
#pragma omp simd reduction(+ : p)
    for (size_t j = i; j < end; j++) p += x[j] * x[j];
    s += p;
  }
  return s;
}
}  // namespace

double CpuOps::sumsq(const float* x, size_t n) {
  const int nt = omp_get_max_threads();
  std::vector<double> part(nt, 0.0);
#pragma omp parallel num_threads(nt) if (n > 65536)
  {
    size_t b, e;
    split(n, omp_get_thread_num(), omp_get_num_threads(), b, e);
    part[omp_get_thread_num()] = sumsq_range(x, b, e);
  }
  double s = 0.0;
  for (double v : part) s += v;  // thread order: deterministic for a thread count
  return s;
}

Ops& cpu_ops() {
  static CpuOps ops;
  return ops;
}

}  // namespace aha::kernels
