// What a speculative round costs against plain steps, by batch size: one main-model pass
// over 1 and over 2 new tokens per row, and the MTP module over 2 positions (all rows,
// and last-only as speculative decoding runs it), on a checkpoint's real weights, after
// a prefill of `context` tokens in every row. "bound" is the speedup speculation could
// reach with every draft accepted: 2 · pass(1) / (pass(2) + MTP(2)).
// Build (after the release build) and run (not part of the test suite):
//   g++ -O2 -std=c++20 -fopenmp -I. -Ibuild/release tests/bench/decode_pass_cost.cpp \
//     build/release/engine/libaha_engine.a build/release/kernels/cpu/libaha_kernels.a \
//     -ldnnl -lspdlog -lfmt -lsqlite3 -ltomlplusplus -o /tmp/decode_pass_cost
//   OMP_NUM_THREADS=1 /tmp/decode_pass_cost CKPT_DIR 128
// Prints the best of 30 calls per figure (ms).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "engine/checkpoint.h"
#include "engine/model.h"
#include "kernels/cpu/ops.h"

using namespace aha;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: decode_pass_cost CKPT_DIR CONTEXT\n");
    return 2;
  }
  const RunConfig rc = read_checkpoint_config(argv[1]);
  if (rc.model.num_nextn_predict_layers < 1) {
    std::fprintf(stderr, "the checkpoint has no MTP module\n");
    return 2;
  }
  Model m(rc.model, kernels::cpu_ops());
  load_weights(argv[1], m);
  const int ctx = std::atoi(argv[2]), d = rc.model.hidden_size;
  auto best_ms = [](auto&& f) {
    double b = 1e30;
    for (int r = 0; r < 30; r++) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      b = std::min(b, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3);
    }
    return b;
  };
  for (int B : {1, 2, 4, 8, 16}) {
    std::vector<int32_t> toks(ctx);  // [ctx] printable bytes (the byte tokenizer's 8 specials come first)
    for (int i = 0; i < ctx; i++) toks[i] = 40 + (i * 7) % 60;
    Model::DecodeCache main = m.new_cache(B, ctx + 4), mc = m.new_mtp_cache(B, ctx + 4);
    std::vector<float> logits, hidden, ml;
    main.T = ctx;
    for (int b = 0; b < B; b++) m.prefill(main, b, 1, toks.data(), ctx, logits, &hidden);
    std::vector<int32_t> two(2 * B);  // [B, 2] different tokens, which may route to different experts
    for (int i = 0; i < 2 * B; i++) two[i] = 45 + (i * 13) % 50;
    const double t1 = best_ms([&] { main.T = ctx; m.decode(main, two.data(), 1, logits, &hidden); });
    const double t2 = best_ms([&] { main.T = ctx; m.decode(main, two.data(), 2, logits, &hidden); });
    const std::vector<float> h2((size_t)B * 2 * d, 0.1f);  // [B, 2, d]
    const double mt = best_ms([&] { mc.T = ctx; m.mtp_decode(mc, h2.data(), two.data(), 2, ml, false); });
    const double ml_last = best_ms([&] { mc.T = ctx; m.mtp_decode(mc, h2.data(), two.data(), 2, ml, true); });
    std::printf("batch %2d, context %d: pass 1 token %.3f ms, 2 tokens %.3f ms (x%.2f); MTP 2 positions %.3f ms, "
                "last only %.3f ms; bound %.2fx\n",
                B, ctx, t1, t2, t2 / t1, mt, ml_last, 2 * t1 / (t2 + ml_last));
  }
}
