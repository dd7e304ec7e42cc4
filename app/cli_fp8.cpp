// aha fp8 study: FP8 GEMM accumulation error against K, three ways (engine/fp8_study.h).
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "engine/fp8_study.h"

namespace aha::cli {

void add_fp8(CLI::App& app) {
  auto* fp8 = app.add_subcommand("fp8", "FP8 numerics (DeepSeek-V3's fine-grained FP8)");
  fp8->require_subcommand(1);
  auto* study = fp8->add_subcommand(
      "study", "Relative error of E4M3 GEMMs vs K: promotion every 128 (V3), a limited accumulator, FP32");
  static Fp8StudyConfig c;
  static bool json = false;
  static int k_max = 16384;
  study->add_option("--k-max", k_max, "Largest K (powers of two from 128; default 16384)")->check(CLI::Range(128, 1 << 20));
  study->add_option("--m", c.m, "Rows of A (default 32)")->check(CLI::PositiveNumber);
  study->add_option("--n", c.n, "Rows of B (default 32)")->check(CLI::PositiveNumber);
  study->add_option("--seed", c.seed, "Random inputs' seed (default 1)");
  study->add_option("--inputs", c.inputs, "uniform (U(0,1), default) or normal (N(0,1))")
      ->check(CLI::IsMember({"uniform", "normal"}));
  study->add_option("--acc-bits", c.acc_bits, "Fraction bits of the limited accumulator (default 13, H800)")
      ->check(CLI::Range(4, 23));
  study->add_flag("--json", json, "Print a JSON array of {k, mode, max_rel_error, mean_rel_error}");
  study->callback([] {
    c.ks.clear();
    for (int k = 128; k <= k_max; k *= 2) c.ks.push_back(k);
    const auto rows = fp8_accumulation_study(c);
    if (json) {
      std::cout << fp8_study_json(rows) << "\n";
      return;
    }
    std::printf("%7s  %-10s  %14s  %14s\n", "K", "mode", "max rel error", "mean rel error");
    for (const auto& r : rows)
      std::printf("%7d  %-10s  %14.3e  %14.3e\n", r.k, r.mode.c_str(), r.max_rel_error, r.mean_rel_error);
  });
}

}  // namespace aha::cli
