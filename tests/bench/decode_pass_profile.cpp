// Where one decoding pass at batch 1 spends its time: the model runs on a ProfilingOps
// (kernels/cpu/profiling.h; its timers add a little to every call) and prints, per op,
// the µs per pass of a one-token pass, a two-token pass (a token and its MTP draft, as
// speculative decoding verifies them) and one MTP drafting step, at a 378-token context
// (the R1 prompt's length), averaged over 2,000 passes after 50 warm-up passes.
// Build (after the release build) and run (not part of the test suite):
//   g++ -O2 -std=c++20 -fopenmp -I. -Ibuild/release tests/bench/decode_pass_profile.cpp \
//     build/release/engine/libaha_engine.a build/release/kernels/cpu/libaha_kernels.a \
//     -ldnnl -lspdlog -lfmt -lsqlite3 -ltomlplusplus -o /tmp/decode_pass_profile
//   OMP_NUM_THREADS=1 /tmp/decode_pass_profile CKPT_DIR
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/model.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/profiling.h"
using namespace aha;
int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: decode_pass_profile CKPT_DIR (a checkpoint with an MTP module)\n");
    return 2;
  }
  const RunConfig rc = read_checkpoint_config(argv[1]);
  kernels::ProfilingOps prof(kernels::cpu_ops());
  Model m(rc.model, prof);
  load_weights(argv[1], m);
  const int ctx = 378;
  std::vector<int32_t> toks(ctx);  // [ctx] printable bytes (the byte tokenizer's 8 specials come first)
  for (int i = 0; i < ctx; i++) toks[i] = 40 + (i * 7) % 60;
  Model::DecodeCache main = m.new_cache(1, ctx + 4), mc = m.new_mtp_cache(1, ctx + 4);
  std::vector<float> logits, hidden, ml;
  main.T = ctx; m.prefill(main, 0, 1, toks.data(), ctx, logits, &hidden);
  const int32_t two[2] = {45, 58};
  auto show = [&](const char* what, auto f) {
    for (int r = 0; r < 50; r++) f();
    prof.reset();
    const int reps = 2000;
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; r++) f();
    double tot = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps * 1e6;
    std::vector<std::pair<std::string, kernels::OpTime>> rows(prof.table().begin(), prof.table().end());
    std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.seconds > b.second.seconds; });
    double ops = 0, gemm = 0, head = 0;
    for (auto& r : rows) { const double us = r.second.seconds / reps * 1e6; ops += us;
      if (r.first.rfind("gemm", 0) == 0) gemm += us;
      if (r.first.find("N=64 K=32") != std::string::npos || r.first.find("N=32 K=64") != std::string::npos) head += us; }
    std::printf("== %s: %.1f us per pass (ops %.1f, all gemm %.1f, per-head W_UK/W_UV %.1f)\n", what, tot, ops, gemm, head);
    for (auto& r : rows) if (r.second.seconds / reps * 1e6 > 1.0) std::printf("  %-34s %6.1f us %4ld calls\n", r.first.c_str(), r.second.seconds / reps * 1e6, r.second.calls / reps);
  };
  show("1 token", [&] { main.T = ctx; m.decode(main, two, 1, logits, &hidden); });
  show("2 tokens", [&] { main.T = ctx; m.decode(main, two, 2, logits, &hidden); });
  std::vector<float> h1(hidden.begin(), hidden.begin() + rc.model.hidden_size);
  show("MTP 1 position", [&] { mc.T = ctx; m.mtp_decode(mc, h1.data(), two, 1, ml, true); });
}
