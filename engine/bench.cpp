#include "engine/bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/run.h"
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
                       bool profile) {
  RunConfig cfg = cfg_in;
  cfg.train.steps = steps + 2;
  cfg.train.warmup_steps = std::min(cfg.train.warmup_steps, cfg.train.steps);
  if (cfg.train.threads > 0) omp_set_num_threads(cfg.train.threads);
  kernels::ProfilingOps prof(kernels::cpu_ops());
  kernels::Ops& ops = profile ? (kernels::Ops&)prof : kernels::cpu_ops();
  Model model(cfg.model, ops);
  model.init_weights(cfg.train.seed);
  PretrainStage stage(cfg, model, ops);
  std::vector<double> ms;
  for (int i = 0; i < steps + 2; i++) {
    if (i == 2) prof.reset();
    StepReport rep = stage.step();
    if (i >= 2) ms.push_back(rep.metrics["step_ms"]);
  }
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
