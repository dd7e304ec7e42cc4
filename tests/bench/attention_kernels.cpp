// Times the CPU backend's causal attention (CpuOps::attention_forward / _backward) on the
// shapes of two training steps: `curriculum` at d 160 with 4 × 512 tokens and `tiny` with
// 8 × 256 (4 heads, qk 32 + 16 rope dims, v 32 — the naive MLA path training uses).
// Build and run (not part of the test suite; after `cmake --build --preset release`):
//   g++ -O2 -std=c++20 -fopenmp -I. tests/bench/attention_kernels.cpp \
//     build/release/kernels/cpu/libaha_kernels.a -ldnnl -o /tmp/attention_kernels && /tmp/attention_kernels
// Prints the best of 30 calls, ms and GFLOP/s (the FLOPs `aha bench train --profile` counts),
// without and with the probabilities cache (AttnShape::probs), which training uses up to T = 512.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/cpu/aligned.h"
#include "kernels/cpu/fast.h"

using namespace aha::kernels;

int main() {
  struct Shape { const char* name; int B, T, H, Dk, Dv; };
  const Shape shapes[] = {{"curriculum (d 160, 4x512)", 4, 512, 4, 48, 32}, {"tiny (8x256)", 8, 256, 4, 48, 32}};
  CpuOps ops;
  for (const Shape& sh : shapes) {
    const int N = sh.B * sh.T;
    std::mt19937 gen(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    auto rnd = [&](size_t n) { std::vector<float> v(n); for (float& x : v) x = nd(gen); return v; };
    // q, k [N, H, Dk]; v, dO [N, H, Dv]: the layouts engine/mla.cpp passes in training
    const std::vector<float> q = rnd((size_t)N * sh.H * sh.Dk), k = rnd((size_t)N * sh.H * sh.Dk),
                             v = rnd((size_t)N * sh.H * sh.Dv), dout = rnd((size_t)N * sh.H * sh.Dv);
    std::vector<float> out((size_t)N * sh.H * sh.Dv), lse((size_t)sh.B * sh.H * sh.T), dq(q.size()), dk(k.size()), dv(v.size());
    AttnShape s{sh.B, sh.T, sh.T, sh.H, sh.H, sh.Dk, sh.Dv, sh.H * sh.Dk, sh.H * sh.Dk, sh.H * sh.Dv, sh.H * sh.Dv, 0.144f};
    AlignedFloats probs(ops.attention_probs_floats(s));
    for (bool cache : {false, true}) {
    s.probs = cache ? probs.data() : nullptr;  // with the probabilities cache: the backward reads P
    auto best_ms = [](auto&& f) {
      double b = 1e300;
      for (int r = 0; r < 30; r++) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        b = std::min(b, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      return b;
    };
    const double f = best_ms([&] { ops.attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s); });
    const double b = best_ms([&] {
      ops.attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(), k.data(), v.data(), s);
    });
    const double flops_f = 2.0 * sh.B * sh.H * sh.T * sh.T * (sh.Dk + sh.Dv) / 2, flops_b = 2 * flops_f;
    std::printf("%-28s %-9s forward %.3f ms (%.0f GFLOP/s)  backward %.3f ms (%.0f GFLOP/s)\n", sh.name,
                cache ? "P kept" : "P recomp", f, flops_f / f / 1e6, b, flops_b / b / 1e6);
    }
  }
}
