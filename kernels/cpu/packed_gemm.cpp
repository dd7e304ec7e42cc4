// packed_gemm: Goto/BLIS loop nest around a 6×16 AVX2 microkernel (see packed_gemm.h).
//
// Where each block lives on a Zen 3 core (32 KB L1d, 512 KB L2, L3 shared):
//   B block   [KC, N]   packed in NR-wide micro-panels      — L2 / L3 (384·256·4 = 384 KB)
//   A block   [MC, KC]  packed in MR-tall micro-panels      — L2 (96·384·4 = 144 KB)
//   B micro-panel [KC, NR] = 384·16·4 = 24 KB               — L1, reused by MC/MR tiles
//   C tile [MR, NR] = 12 ymm accumulators                   — registers
// The block sizes were swept on tiny's shapes (KC 192–512, MC 72–240): deeper blocks
// halve the passes over C for the weight gradients' K = 1,024, and K is split into equal
// blocks so no short remainder block pays a whole pass.
// Per k step the microkernel loads two B vectors and broadcasts six A values for 12 FMAs:
// Zen 3 issues 2 FMAs and 3 loads a cycle, so the FMA pipes set the pace.
#include "kernels/cpu/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/aligned.h"
#include "kernels/cpu/transpose8.h"

namespace aha::kernels {

// The whole file is AVX2 + FMA code; packed_gemm_available() says whether it may run.
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace {
constexpr int MR = 6, NR = 16;  // register tile: 6 rows × 2 ymm
constexpr int KC = 384;         // deepest packed block (K is split into equal blocks up to this)
constexpr int MC = 96;          // rows of A per packed block (a multiple of MR)

// strided views: element (i, k) of op(A) at a[i·rs + k·cs]
struct View {
  const float* p;
  long rs, cs;
};

// Packing writes panels dst[panel][kc][W] (W = MR for A, NR for B); values past `width`
// are 0. Each A element is packed once and then used for 2·N FLOPs: at N = 64 that is 4
// cycles of FMA work per element, so packing must cost well under one (a scalar loop did
// not: TN 256×64×1024 ran at 68 GFLOP/s against oneDNN's 91).

// From rows along which the panels' W values lie side by side: row k at src + k·ld
// (op(A) = Aᵀ of a [K, M] array; row-major B)
template <int W>
void pack_rows(float* dst, const float* src, long ld, int kc, int width) {
  const int full = width / W, rest = width % W;
  float* tail = dst + (size_t)full * kc * W;
  for (int k = 0; k < kc; k++) {
    const float* s = src + (long)k * ld;
    float* d = dst + (size_t)k * W;
    for (int p = 0; p < full; p++, s += W, d += (size_t)kc * W) std::memcpy(d, s, sizeof(float) * W);
    if (rest) {
      float* t = tail + (size_t)k * W;
      for (int r = 0; r < W; r++) t[r] = r < rest ? s[r] : 0.0f;
    }
  }
}

// From `width` rows read along k and interleaved: row w at src + w·ld, its k-th value at
// + k·ks (row-major A; op(B) = Bᵀ of an [N, K] weight)
template <int W>
void pack_cols(float* dst, const float* src, long ld, long ks, int kc, int width) {
  for (int p = 0; p * W < width; p++) {
    const int rows = std::min(W, width - p * W);
    float* d = dst + (size_t)p * kc * W;
    const float* s[W];
    for (int r = 0; r < W; r++) s[r] = src + (long)(p * W + std::min(r, rows - 1)) * ld;
    int k = 0;
    if constexpr (W == MR) {
      // row-major A: eight k at a time, the six rows (and two repeats of the last)
      // transposed in registers, each column stored as 8 floats of which the next store
      // overwrites the last 2 (the buffer has slack for the final one)
      if (ks == 1 && rows == MR)
        for (; k + 8 <= kc; k += 8, d += 8 * MR) {
          __m256 r[8];
          for (int i = 0; i < MR; i++) r[i] = _mm256_loadu_ps(s[i] + k);
          r[6] = r[7] = r[5];
          transpose8(r);
          for (int i = 0; i < 8; i++) _mm256_storeu_ps(d + i * MR, r[i]);
        }
    }
    if constexpr (W == NR) {
      // a weight's rows for Bᵀ: two 8×8 register transposes per eight k
      if (ks == 1 && rows == NR)
        for (; k + 8 <= kc; k += 8, d += 8 * NR)
          for (int h = 0; h < 2; h++) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s[8 * h + i] + k);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_store_ps(d + i * NR + 8 * h, r[i]);
          }
    }
    for (; k < kc; k++, d += W)
      for (int r = 0; r < W; r++) d[r] = r < rows ? s[r][(long)k * ks] : 0.0f;
  }
}

// op(A) rows [i0, i0 + m), columns [k0, k0 + kc) → MR-tall panels
__attribute__((noinline)) void pack_a(float* dst, View a, int i0, int m, int k0, int kc) {
  if (a.rs == 1) pack_rows<MR>(dst, a.p + (long)k0 * a.cs + i0, a.cs, kc, m);
  else pack_cols<MR>(dst, a.p + (long)i0 * a.rs + (long)k0 * a.cs, a.rs, a.cs, kc, m);
}

// op(B) rows [k0, k0 + kc), columns [0, n) → NR-wide panels
__attribute__((noinline)) void pack_b(float* dst, View b, int k0, int kc, int n) {
  if (b.cs == 1) pack_rows<NR>(dst, b.p + (long)k0 * b.rs, b.rs, kc, n);
  else pack_cols<NR>(dst, b.p + (long)k0 * b.rs, b.cs, b.rs, kc, n);
}

// C[m, n] (m ≤ MR, n ≤ NR) = alpha · a-panel[kc, MR]ᵀ · b-panel[kc, NR] + beta · C
__attribute__((noinline)) void micro(int kc, const float* a, const float* b, float* c, int ldc, float alpha,
                                     float beta, int m, int n) {
  // twelve named accumulators: GCC kept an __m256 acc[6][2] array on the stack and
  // stored it back every k step (30 GFLOP/s instead of ~90)
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < kc; k++, a += MR, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ar = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ar, b0, c00); c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ar, b0, c10); c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ar, b0, c20); c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ar, b0, c30); c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ar, b0, c40); c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ar, b0, c50); c51 = _mm256_fmadd_ps(ar, b1, c51);
  }
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (m == MR && n == NR) {
    for (int r = 0; r < MR; r++) {
      float* cr = c + (size_t)r * ldc;
      __m256 x0 = _mm256_mul_ps(acc[r][0], va), x1 = _mm256_mul_ps(acc[r][1], va);
      if (beta != 0.0f) {
        x0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), x0);
        x1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), x1);
      }
      _mm256_storeu_ps(cr, x0);
      _mm256_storeu_ps(cr + 8, x1);
    }
    return;
  }
  alignas(32) float t[MR][NR];
  for (int r = 0; r < MR; r++) {
    _mm256_store_ps(t[r], _mm256_mul_ps(acc[r][0], va));
    _mm256_store_ps(t[r] + 8, _mm256_mul_ps(acc[r][1], va));
  }
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) {
      float& out = c[(size_t)r * ldc + j];
      out = beta == 0.0f ? t[r][j] : t[r][j] + beta * out;
    }
}

// The source of one packed block: `count` segments of `len` floats, `stride` floats apart.
struct Segments {
  const float* base = nullptr;
  long count = 0, stride = 0, len = 0;
};
Segments a_source(View a, int i0, int m, int k0, int kc) {
  if (a.rs == 1) return {a.p + (long)k0 * a.cs + i0, kc, a.cs, m};
  return {a.p + (long)i0 * a.rs + (long)k0 * a.cs, m, a.rs, kc};
}
Segments b_source(View b, int k0, int kc, int n) {
  if (b.cs == 1) return {b.p + (long)k0 * b.rs, kc, b.rs, n};
  return {b.p + (long)k0 * b.rs, n, b.cs, kc};
}

// Walks the cache lines of the next blocks' sources a few at a time, between microkernel
// calls, prefetching them into L2. Packing is otherwise a memory-bound phase that the
// FMA-bound microkernel cannot overlap: in a training step the activations come back from
// DRAM, and the hardware prefetchers stop at every 4 KB page, so without this the kernel ran
// at 45–60 GFLOP/s in the step against 77–88 on hot operands.
class Prefetcher {
 public:
  void add(const Segments& s) {
    if (n_ < 2 && s.count > 0) seg_[n_++] = s;
  }
  // lines left to fetch, to spread over `calls` microkernel calls
  void plan(long calls) {
    long lines = 0;
    for (int i = 0; i < n_; i++) lines += seg_[i].count * (seg_[i].len / 16 + 2);
    per_call_ = calls > 0 ? lines / calls + 1 : lines;
  }
  void step() {
    long budget = per_call_;
    while (budget > 0 && cur_ < n_) {
      const Segments& s = seg_[cur_];
      if (lines_ == 0) {  // entering a row: its first line and line count
        const uintptr_t b = reinterpret_cast<uintptr_t>(s.base + row_ * s.stride);
        const uintptr_t e = reinterpret_cast<uintptr_t>(s.base + row_ * s.stride + s.len);
        line_ = reinterpret_cast<const char*>(b & ~uintptr_t(63));
        lines_ = (long)(((e + 63) & ~uintptr_t(63)) - (b & ~uintptr_t(63))) / 64;
      }
      const long n = std::min(budget, lines_);
      for (long i = 0; i < n; i++) _mm_prefetch(line_ + 64 * i, _MM_HINT_T1);
      line_ += 64 * n;
      lines_ -= n;
      budget -= n;
      if (lines_ == 0 && ++row_ == s.count) { row_ = 0; cur_++; }
    }
  }
 private:
  Segments seg_[2];
  int n_ = 0, cur_ = 0;
  long row_ = 0, per_call_ = 0;
  const char* line_ = nullptr;  // next line of the current row
  long lines_ = 0;              // lines of it left
};

struct Scratch {
  AlignedFloats a, b;
};
}  // namespace

bool packed_gemm_available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

void packed_gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  const View a = transA ? View{A, 1, lda} : View{A, lda, 1};  // op(A)(i, k)
  const View b = transB ? View{B, 1, ldb} : View{B, ldb, 1};  // op(B)(k, j)
  thread_local Scratch s;  // grows to the largest block seen on this thread, then stays
  const int np = (N + NR - 1) / NR;
  // grown only: a resize down and back up would zero-fill the regrown part every call
  if (s.b.size() < (size_t)np * NR * KC) s.b.resize((size_t)np * NR * KC);
  if (s.a.size() < (size_t)MC * KC + 8) s.a.resize((size_t)MC * KC + 8);  // + the transposing pack's overhang
  // depth blocks of equal size (K = 1024 as 3 × 344 rather than 384 + 384 + 256)
  const int nk = (K + KC - 1) / KC, kstep = ((K + nk - 1) / nk + 7) / 8 * 8;
  for (int k0 = 0; k0 < K; k0 += kstep) {
    const int kc = std::min(kstep, K - k0);
    const float bk = k0 == 0 ? beta : 1.0f;  // later depth blocks accumulate
    pack_b(s.b.data(), b, k0, kc, N);
    for (int i0 = 0; i0 < M; i0 += MC) {
      const int mc = std::min(MC, M - i0);
      pack_a(s.a.data(), a, i0, mc, k0, kc);
      // while this block computes, fetch what the next one packs
      Prefetcher pf;
      if (i0 + MC < M) {
        pf.add(a_source(a, i0 + MC, std::min(MC, M - i0 - MC), k0, kc));
      } else if (k0 + kstep < K) {
        const int kn = std::min(kstep, K - k0 - kstep);
        pf.add(b_source(b, k0 + kstep, kn, N));
        pf.add(a_source(a, 0, std::min(MC, M), k0 + kstep, kn));
      }
      pf.plan((long)np * ((mc + MR - 1) / MR));
      for (int j = 0; j < np; j++) {
        const float* bp = s.b.data() + (size_t)j * kc * NR;
        const int n = std::min(NR, N - j * NR);
        for (int i = 0; i < mc; i += MR) {
          {
            // the next tile's C rows, for writing: in a training step the output is cold
            // and its first stores otherwise wait for the lines (−5% time on the packed
            // products in tiny's step, ABBA-paired profiles)
            const int ni = i + MR < mc ? i + MR : 0, nj = i + MR < mc ? j : j + 1;
            if (nj < np)
              for (int r = 0; r < std::min(MR, mc - ni); r++) {
                const float* row = C + (size_t)(i0 + ni + r) * ldc + nj * NR;
                __builtin_prefetch(row, 1, 3);
                __builtin_prefetch(row + NR - 1, 1, 3);
              }
          }
          micro(kc, s.a.data() + (size_t)i * kc, bp, C + (size_t)(i0 + i) * ldc + j * NR, ldc, alpha, bk,
                std::min(MR, mc - i), n);
          pf.step();
        }
      }
    }
  }
}

#pragma GCC pop_options

}  // namespace aha::kernels
