// aha score / aha bench
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "engine/bench.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/generate.h"
#include "engine/store.h"
#include "kernels/cpu/cpu_features.h"
#include <unistd.h>

namespace aha::cli {
namespace fs = std::filesystem;

namespace {
// "5,17,3" → ids; every item must be a non-negative integer.
std::vector<int32_t> parse_tokens(const std::string& s) {
  std::vector<int32_t> out;
  size_t i = 0, item = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string t = s.substr(i, j - i);
    while (!t.empty() && t.front() == ' ') t.erase(t.begin());
    while (!t.empty() && t.back() == ' ') t.pop_back();
    if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos)
      throw InvalidArgument("--tokens: item " + std::to_string(item + 1) + " ('" + t +
                            "') is not a non-negative integer");
    out.push_back(std::stoi(t));
    i = j + 1;
    item++;
  }
  return out;
}
}  // namespace

void add_score(CLI::App& app) {
  auto* cmd = app.add_subcommand("score", "Print each next token's log-probability under a checkpoint");
  static std::string ckpt, tokens, dump, path = "absorbed";
  static bool json = false;
  cmd->add_option("checkpoint", ckpt, "Checkpoint directory")->required();
  cmd->add_option("--tokens", tokens, "Comma-separated token ids, e.g. 1,72,101")->required();
  cmd->add_flag("--json", json, "Print JSON");
  cmd->add_option("--dump-logits", dump, "Write float32 logits [T x vocab], row-major, no header");
  cmd->add_option("--attention", path, "MLA inference path")->check(CLI::IsMember({"absorbed", "naive"}));
  cmd->callback([] {
    const std::vector<int32_t> ids = parse_tokens(tokens);
    RunConfig cfg = read_checkpoint_config(ckpt);
    Model model(cfg.model, kernels::cpu_ops());
    load_weights(ckpt, model);
    const int T = (int)ids.size(), V = cfg.model.vocab_size;
    std::vector<float> logits;
    model.logits(ids.data(), 1, T, path == "naive" ? AttnPath::Naive : AttnPath::Absorbed, logits);
    // logprob of token t+1 under the distribution at position t
    std::vector<double> lp(T, NAN);
    for (int t = 0; t + 1 < T; t++) {
      const float* l = logits.data() + (size_t)t * V;
      double mx = -INFINITY, sum = 0;
      for (int v = 0; v < V; v++) mx = std::max(mx, (double)l[v]);
      for (int v = 0; v < V; v++) sum += std::exp(l[v] - mx);
      lp[t + 1] = l[ids[t + 1]] - mx - std::log(sum);
    }
    if (!dump.empty()) {
      std::ofstream out(dump, std::ios::binary);
      out.write(reinterpret_cast<const char*>(logits.data()), (std::streamsize)(logits.size() * sizeof(float)));
      if (!out) throw IoError("--dump-logits: cannot write '" + dump + "'");
    }
    if (json) {
      nlohmann::json j;
      j["tokens"] = ids;
      nlohmann::json arr = nlohmann::json::array();
      double total = 0;
      for (int t = 0; t < T; t++) {
        if (t == 0) arr.push_back(nullptr);
        else { arr.push_back(lp[t]); total += lp[t]; }
      }
      j["logprobs"] = arr;
      j["total_logprob"] = total;
      j["vocab_size"] = V;
      std::cout << j.dump() << "\n";
    } else {
      std::printf("%5s %7s %12s\n", "pos", "token", "logprob");
      for (int t = 1; t < T; t++) std::printf("%5d %7d %12.6f\n", t, ids[t], lp[t]);
    }
  });
}

void add_bench_store(CLI::App* bench);
void add_bench_decode(CLI::App* bench);

void add_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  add_bench_store(bench);
  add_bench_decode(bench);
  auto* cmd = bench->add_subcommand("train", "Time training steps: tokens/s, FLOP/s, MFU, memory");
  static std::string source;
  static int steps = 10;
  static bool json = false, profile = false;
  static std::string record;
  static std::vector<std::string> sets;
  cmd->add_option("config", source, "Preset name or TOML file")->required();
  cmd->add_option("--set", sets, "Override one key, TABLE.KEY=VALUE (repeatable), e.g. --set train.precision=fp8");
  cmd->add_option("--record", record, "Also record every step into a new run database in this directory");
  cmd->add_flag("--profile", profile, "Also print time per op (GEMMs by shape)");
  cmd->add_option("--steps", steps, "Timed steps (after 2 warm-up steps)")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", json, "Print one JSON object");
  cmd->callback([] {
    const RunConfig cfg = apply_overrides(load_config(source), sets);  // validates
    TrainBench r = bench_train(cfg, steps, kernels::default_peak_cache(), profile, record);
    if (profile) std::fprintf(stderr, "%s", r.profile.c_str());
    if (json) {
      std::cout << r.to_json() << "\n";
    } else {
      std::printf("%s: %.0f tokens/s, %.1f ms/step (median), %.1f GFLOP/s of %.1f peak (MFU %.1f%%; "
                  "this run's FMA probe %.1f), %zu params (%zu active), peak RSS %.0f MB\n",
                  cfg.name.c_str(), r.tokens_per_s, r.step_ms_median, r.achieved_gflops, r.peak_gflops,
                  100 * r.mfu, r.peak_probe_gflops, r.params_total, r.params_active, r.peak_rss_mb);
    }
  });
}

void add_bench_store(CLI::App* bench) {
  auto* cmd = bench->add_subcommand("store", "Sustained ingest into a run database: points/s and traces/s");
  static std::string dir;
  static int64_t points = 2'000'000, traces = 50'000;
  static int series = 20;
  static bool json = false;
  cmd->add_option("--series", series, "Series the points are spread over (default 20); 1 = one long series")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dir", dir, "Directory for the database (default: a new temporary one, removed after)");
  cmd->add_option("--points", points, "Scalar points to write")->check(CLI::PositiveNumber);
  cmd->add_option("--traces", traces, "Traces to write")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", json, "Print one JSON object");
  cmd->callback([] {
    const bool temp = dir.empty();
    const fs::path d = temp ? fs::temp_directory_path() / ("aha-bench-store-" + std::to_string(::getpid())) : fs::path(dir);
    if (fs::exists(d / store_file_name())) throw InvalidArgument("--dir '" + d.string() + "' already holds a run database");
    StoreBench r = bench_store(d.string(), points, traces, series);
    if (temp) fs::remove_all(d);
    if (json) std::cout << r.to_json() << "\n";
    else std::printf("%.0f points/s, %.0f traces/s (%lld points, %lld traces, %.1f MB); a %lld-point series "
                     "decimated to 1,200 buckets in %.1f ms (whole range), %.2f ms (1%% zoom)\n", r.points_per_s,
                     r.traces_per_s, (long long)r.points, (long long)r.traces, r.db_mb, (long long)r.series_points,
                     r.decimate_full_ms, r.decimate_zoom_ms);
  });
}

void add_bench_decode(CLI::App* bench) {
  auto* cmd = bench->add_subcommand("decode", "Decoding tokens/s with the absorbed (MLA) and naive (MHA-sized) caches");
  static std::string ckpt;
  static int context = 128, batch = 1, new_tokens = 32, draft = 1;
  static bool json = false, mtp = false;
  cmd->add_option("checkpoint", ckpt, "Checkpoint directory")->required();
  cmd->add_option("--context", context, "Tokens of context (curriculum text) prefilled before decoding (default 128)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch", batch, "Rows decoded together (default 1)")->check(CLI::PositiveNumber);
  cmd->add_option("--new-tokens", new_tokens, "Decoding steps timed per cache (default 32)")->check(CLI::PositiveNumber);
  cmd->add_flag("--mtp", mtp, "Also measure greedy MTP speculative decoding on arithmetic prompts (batch 1)");
  cmd->add_option("--draft", draft, "With --mtp: tokens the MTP module drafts per main pass (default 1; more chain "
                  "the module on its own output)")
      ->check(CLI::Range(1, SamplingConfig::kMaxDraftTokens));
  cmd->add_flag("--json", json, "Print one JSON object");
  cmd->callback([] {
    RunConfig cfg = read_checkpoint_config(ckpt);
    Model model(cfg.model, kernels::cpu_ops());
    load_weights(ckpt, model);
    const DecodeBench r = bench_decode(model, cfg, context, batch, new_tokens, mtp, draft);
    if (json) {
      std::cout << r.to_json() << "\n";
      return;
    }
    std::printf("context %d, batch %d, %d new tokens: absorbed %.0f tokens/s, naive %.0f tokens/s "
                "(speedup %.2fx); KV cache %.0f B/token (MLA) vs %.0f B/token (MHA)\n",
                r.context, r.batch, r.new_tokens, r.tokens_per_s_absorbed, r.tokens_per_s_naive, r.speedup,
                r.kv_bytes_per_token_mla, r.kv_bytes_per_token_mha);
    if (mtp) {
      std::string at;  // acceptance per draft position
      for (int j = 0; j < r.draft_tokens && r.draft_tokens > 1; j++)
        at += (j ? ", " : " (by position: ") +
              std::to_string((int)std::lround(100.0 * r.mtp_accepted_at[j] / std::max<int64_t>(1, r.mtp_drafted_at[j]))) +
              "%" + (j + 1 == r.draft_tokens ? ")" : "");
      std::printf("MTP speculative greedy, %d draft%s per pass: %lld of %lld drafts accepted (%.0f%%%s), %.0f vs %.0f "
                  "tokens/s after the prompt (decode speedup %.2fx; %.2fx end to end)%s\n",
                  r.draft_tokens, r.draft_tokens > 1 ? "s" : "", (long long)r.mtp_accepted, (long long)r.mtp_drafted,
                  100 * r.mtp_acceptance, at.c_str(),
                  r.tokens_per_s_speculative, r.tokens_per_s_greedy, r.mtp_speedup, r.mtp_speedup_end_to_end,
                  r.mtp_same_tokens ? "" : "; WARNING: output differs from plain greedy");
    }
  });
}

}  // namespace aha::cli
