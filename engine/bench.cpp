#include "engine/bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/run.h"
#include "engine/store.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/profiling.h"

namespace aha {

std::string TrainBench::to_json() const {
  nlohmann::json j;
  j["tokens_per_s"] = tokens_per_s;
  j["step_ms"] = step_ms_median;
  j["batch_size"] = batch_size;
  j["seq_len"] = seq_len;
  j["flops_per_token"] = flops_per_token;
  j["achieved_gflops"] = achieved_gflops;
  j["peak_gflops"] = peak_gflops;
  j["mfu"] = mfu;
  j["params_total"] = params_total;
  j["params_active"] = params_active;
  j["peak_rss_mb"] = peak_rss_mb;
  j["steps"] = steps;
  j["threads"] = threads;
  j["simd"] = simd;
  j["cpu"] = cpu;
  return j.dump();
}

TrainBench bench_train(const RunConfig& cfg_in, int steps, const std::string& peak_cache,
                       bool profile, const std::string& record_dir) {
  RunConfig cfg = cfg_in;
  cfg.train.steps = steps + 2;
  cfg.train.warmup_steps = std::min(cfg.train.warmup_steps, cfg.train.steps);
  if (cfg.train.threads > 0) omp_set_num_threads(cfg.train.threads);
  kernels::ProfilingOps prof(kernels::cpu_ops());
  kernels::Ops& ops = profile ? (kernels::Ops&)prof : kernels::cpu_ops();
  Model model(cfg.model, ops);
  model.init_weights(cfg.train.seed);
  PretrainStage stage(cfg, model, ops);
  std::unique_ptr<RunStoreWriter> store;
  if (!record_dir.empty()) {
    RunInfo info;
    info.name = cfg.name;
    info.config_toml = to_toml(cfg);
    info.version = "aha 0.1.0 (bench)";
    store = RunStoreWriter::create(record_dir, info);
  }
  std::vector<double> ms;
  const auto t_start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps + 2; i++) {
    if (i == 2) prof.reset();
    const auto t0 = std::chrono::steady_clock::now();
    StepReport rep = stage.step();
    if (store) {  // what Run::body does per step
      const double wall = std::chrono::duration<double>(t0 - t_start).count();
      store->metrics(stage.name(), stage.steps_done(), wall, rep.tokens, rep.metrics);
      store->moe(stage.name(), stage.steps_done(), rep.moe);
    }
    // the step's wall time including the recording calls
    if (i >= 2) ms.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3);
  }
  if (store) store->finish("finished");
  std::sort(ms.begin(), ms.end());
  TrainBench r;
  const auto f = kernels::cpu_features();
  r.step_ms_median = ms[ms.size() / 2];
  r.batch_size = cfg.train.batch_size * cfg.train.grad_accum;
  r.seq_len = cfg.train.seq_len;
  r.steps = steps;
  r.threads = f.threads;
  r.simd = f.simd();
  r.cpu = f.model;
  r.tokens_per_s = (double)r.batch_size * r.seq_len / (r.step_ms_median / 1e3);
  r.flops_per_token = model.flops_per_token(cfg.train.seq_len);
  r.achieved_gflops = r.flops_per_token * r.tokens_per_s / 1e9;
  r.peak_gflops = kernels::measure_peak_gflops(peak_cache);
  r.mfu = r.achieved_gflops / r.peak_gflops;
  r.params_total = model.params_total();
  r.params_active = model.params_active();
  if (profile) {
    std::vector<std::pair<std::string, kernels::OpTime>> rows(prof.table().begin(), prof.table().end());
    std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (auto& r2 : rows) total += r2.second.seconds;
    char line[256];
    std::snprintf(line, sizeof line, "%-40s %9s %7s %8s %9s\n", "op", "ms/step", "share", "calls", "GFLOP/s");
    r.profile += line;
    for (auto& [k, t] : rows) {
      std::snprintf(line, sizeof line, "%-40s %9.2f %6.1f%% %8ld %9.1f\n", k.c_str(), t.seconds * 1e3 / steps,
                    100 * t.seconds / total, t.calls / steps, t.flops > 0 ? t.flops / t.seconds / 1e9 : 0.0);
      r.profile += line;
    }
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  r.peak_rss_mb = ru.ru_maxrss / 1024.0;
  return r;
}

}  // namespace aha

namespace aha {

std::string StoreBench::to_json() const {
  nlohmann::json j;
  j["points_per_s"] = points_per_s;
  j["traces_per_s"] = traces_per_s;
  j["points"] = points;
  j["traces"] = traces;
  j["db_mb"] = db_mb;
  return j.dump();
}

StoreBench bench_store(const std::string& dir, int64_t points, int64_t traces, int series) {
  namespace fs = std::filesystem;
  StoreBench r;
  RunInfo info;
  info.name = "bench-store";
  info.version = "aha 0.1.0 (bench)";
  {
    auto w = RunStoreWriter::create(dir, info);
    std::vector<std::string> names;
    for (int i = 0; i < series; i++) names.push_back("series_" + std::to_string(i));
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t step = 1; r.points < points; step++) {
      std::map<std::string, double> m;
      for (int i = 0; i < series; i++) m[names[i]] = std::sin(0.001 * step + i);
      w->metrics("pretrain", step, step * 0.1, step * 2048, m);
      r.points += series;
    }
    w->flush();
    r.points_per_s = r.points / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // traces shaped like GRPO completions: a prompt, ~600 bytes of reasoning, rewards
    const std::string reasoning =
        "<think>We need 17 * 23. 17 * 20 = 340 and 17 * 3 = 51, so 340 + 51 = 391. Wait, let me recheck: "
        "17 * 23 = 17 * 25 - 17 * 2 = 425 - 34 = 391. Yes.</think> <answer>391</answer>";
    std::string completion;
    while (completion.size() < 600) completion += reasoning + " ";
    const auto t1 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < traces; i++) {
      TraceRecord t;
      t.step = i / 64;
      t.stage = "grpo";
      t.prompt = "Compute 17 * 23. Show your reasoning. #" + std::to_string(i);
      t.completion = completion;
      t.group_id = i / 8;
      t.rewards = {{"accuracy", 1.0}, {"format", 1.0}, {"language", 0.98}};
      t.advantage = 0.25;
      w->trace(t);
      r.traces++;
    }
    w->flush();
    r.traces_per_s = r.traces / std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    w->finish("finished");
  }
  std::error_code ec;
  r.db_mb = (double)fs::file_size(fs::path(dir) / store_file_name(), ec) / 1e6;
  return r;
}

}  // namespace aha
