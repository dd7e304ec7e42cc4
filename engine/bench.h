// `aha bench train`: times real training steps of a configuration and reports
// throughput, achieved FLOP/s and MFU against the measured FMA peak of this machine.
#pragma once
#include <string>

#include "engine/config.h"

namespace aha {

struct TrainBench {
  double tokens_per_s = 0, step_ms_median = 0, flops_per_token = 0, achieved_gflops = 0;
  double peak_gflops = 0, mfu = 0, peak_rss_mb = 0;
  int batch_size = 0, seq_len = 0, steps = 0, threads = 0;
  size_t params_total = 0, params_active = 0;
  std::string simd, cpu;
  std::string profile;  // per-op table (with --profile)
  std::string to_json() const;
};

// Runs `steps` timed optimiser steps after 2 warm-up steps. peak_cache: where the FMA
// probe's result is cached ("" = measure every time).
// profile: time every op through ProfilingOps (slower; for finding hot spots).
// record_dir: when not empty, every step is also recorded into a run database there,
// as `aha train` does (metrics and MoE rows), to measure what recording costs.
TrainBench bench_train(const RunConfig& cfg, int steps, const std::string& peak_cache,
                       bool profile = false, const std::string& record_dir = "");

}  // namespace aha

namespace aha {

// `aha bench store`: sustained ingest into a run database on this machine.
struct StoreBench {
  double points_per_s = 0, traces_per_s = 0;
  int64_t points = 0, traces = 0;
  double db_mb = 0;
  std::string to_json() const;
};
// Writes `points` scalar points (in steps of `series` values, as a training loop would)
// and `traces` GRPO-style traces into a fresh database under `dir`, timing enqueue to
// commit.
StoreBench bench_store(const std::string& dir, int64_t points, int64_t traces, int series = 20);

}  // namespace aha
