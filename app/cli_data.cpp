// aha data / aha eval / aha reward: the curriculum, evaluation by sampling, and the
// reward rules applied to completions a user supplies.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "engine/run.h"
#include "engine/checkpoint.h"
#include "engine/curriculum.h"
#include "engine/error.h"
#include "engine/evaluate.h"
#include "engine/rewards.h"
#include "kernels/cpu/ops.h"

namespace aha::cli {
namespace fs = std::filesystem;

void add_data(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "Write the curriculum: pretraining corpus, cold-start SFT set, RL prompts, eval sets");
  static std::string source, out;
  cmd->add_option("config", source, "Preset name or TOML file (its [curriculum] table)")->required();
  cmd->add_option("--out", out, "Output directory")->required();
  cmd->callback([] {
    RunConfig cfg = load_config(source);
    const bool tty = isatty(fileno(stderr));
    DataSummary s = write_dataset(cfg, out, [&](int64_t done, int64_t total) {
      if (tty) std::fprintf(stderr, "\r%lld / %lld problems", (long long)done, (long long)total);
    });
    if (tty) std::fprintf(stderr, "\n");
    std::printf("wrote %s: pretrain.txt (%lld documents, %.1f MB), sft.jsonl (%lld), rl.jsonl (%lld), eval_*.jsonl (%lld), manifest.json\n",
                out.c_str(), (long long)s.pretrain_docs, s.pretrain_bytes / 1e6, (long long)s.sft, (long long)s.rl,
                (long long)s.eval);
  });
}

namespace {
// A checkpoint's run directory (RUN/checkpoints/NAME → RUN) when it has a database.
std::string run_dir_of(const std::string& ckpt, std::string& stage, int64_t& step) {
  const fs::path p = fs::path(ckpt).lexically_normal();
  const fs::path dir = p.filename().empty() ? p.parent_path() : p;
  if (dir.parent_path().filename() != "checkpoints" || !checkpoint_stage_step(dir.string(), stage, step)) return "";
  const fs::path run = dir.parent_path().parent_path();
  if (!fs::exists(run / store_file_name())) return "";
  return run.string();
}
}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Sample completions for held-out problems and score them");
  static std::string ckpt, task, problems_file, op;
  static int n = 50, samples = 1, max_new = 200;
  static double temperature = 0.0, top_p = 1.0;
  static uint64_t seed = 1;
  static bool json = false, no_record = false;
  cmd->add_option("checkpoint", ckpt, "Checkpoint directory")->required();
  cmd->add_option("--task", task, "arithmetic | countdown | linear")->required();
  cmd->add_option("--n", n, "Problems (the first N of the held-out set)")->check(CLI::PositiveNumber);
  cmd->add_option("--samples", samples, "Samples per problem (K of pass@K, maj@K)")->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", temperature, "0 = greedy")->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--top-p", top_p, "Nucleus sampling")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-new-tokens", max_new, "Longest completion")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", seed, "Sampling seed");
  cmd->add_option("--op", op, "arithmetic only: just the problems of one operation (metrics as arithmetic_add/_sub/_mul)")
      ->check(CLI::IsMember({"+", "-", "*"}));
  cmd->add_option("--problems", problems_file, "Eval problems from a JSONL file of `aha data` instead of the curriculum");
  cmd->add_flag("--json", json, "Print one JSON object");
  cmd->add_flag("--no-record", no_record, "Do not add the results to the checkpoint's run database");
  cmd->callback([] {
    task_by_name(task);  // a clear error for an unknown task before loading anything
    RunConfig cfg = read_checkpoint_config(ckpt);
    Model model(cfg.model, kernels::cpu_ops());
    load_weights(ckpt, model);
    std::vector<Example> probs = problems_file.empty() ? Curriculum(cfg.curriculum).eval(task) : read_examples(problems_file);
    if (!op.empty() && task != "arithmetic") throw InvalidArgument("--op " + op + ": only for --task arithmetic");
    std::vector<Example> chosen;
    for (const Example& e : probs)
      if (e.problem.task == task && (int)chosen.size() < n &&
          (op.empty() || (e.problem.data.contains("op") && e.problem.data["op"] == op)))
        chosen.push_back(e);
    if (chosen.empty())
      throw InvalidArgument("--task " + task + (op.empty() ? "" : " --op " + op) + ": no such problems in the eval set");
    // a separate metric series per operation ("eval/arithmetic_add/pass@1")
    const std::string label = op.empty() ? task : task + (op == "+" ? "_add" : op == "-" ? "_sub" : "_mul");
    SamplingConfig s;
    s.temperature = temperature;
    s.top_p = top_p;
    s.max_new_tokens = max_new;
    s.seed = seed;
    const bool tty = isatty(fileno(stderr));
    EvalResult r = evaluate_task(model, chosen, label, samples, s, [&](int done, int total) {
      if (tty) std::fprintf(stderr, "\r%d / %d problems", done, total);
    });
    if (tty) std::fprintf(stderr, "\n");
    std::string stage;
    int64_t step = 0;
    const std::string run = no_record ? "" : run_dir_of(ckpt, stage, step);
    if (json) {
      std::cout << r.to_json() << "\n";
    } else {
      std::printf("%s: %d problems x %d samples in %.1f s: pass@1 %.3f, pass@%d %.3f, maj@%d %.3f, format %.3f, "
                  "length %.1f tokens, language mix %.3f, code switch %.3f, aha %.3f, truncated %.3f%s\n",
                  label.c_str(), r.problems, samples, r.seconds, r.pass1, samples, r.passk, samples, r.majk, r.format_rate,
                  r.mean_length, r.language_mix_rate, r.code_switch_rate, r.aha_rate, r.truncated_rate,
                  run.empty() ? "" : (" (recorded in " + run + ")").c_str());
    }
    std::fflush(stdout);  // the results are shown even if recording them fails
    if (!run.empty()) append_to_run(run, stage, step, r.metrics(), r.traces);
  });
}

void add_reward(CLI::App& app) {
  auto* cmd = app.add_subcommand("reward", "Score completions with the reward rules (one JSON line in, one out)");
  static std::string task, input;
  static double w_acc = 1.0, w_fmt = 0.1, w_lang = 0.0;
  static std::string lang = "en";
  static bool tinyzero = false, json = false;
  cmd->add_option("--task", task, "arithmetic | countdown | linear")->required();
  cmd->add_option("--input", input, "JSONL: a problem as `aha data` writes it plus a \"completion\" string")->required();
  cmd->add_option("--accuracy", w_acc, "Weight of the accuracy reward");
  cmd->add_option("--format", w_fmt, "Weight of the format reward");
  cmd->add_option("--language", w_lang, "Weight of the language-consistency reward");
  cmd->add_option("--target-language", lang, "en | zh")->check(CLI::IsMember({"en", "zh"}));
  cmd->add_flag("--tinyzero", tinyzero, "TinyZero's Countdown scoring: 1 correct, 0.1 well formed but wrong, 0 no answer");
  cmd->add_flag("--json", json, "One JSON object per input line (the default prints a table)");
  cmd->callback([] {
    task_by_name(task);
    std::ifstream in(input, std::ios::binary);
    if (!in) throw IoError("--input: cannot open '" + input + "'");
    RewardWeights w;
    w.accuracy = w_acc;
    w.format = w_fmt;
    w.language = w_lang;
    w.target_language = lang;
    w.tinyzero_countdown = tinyzero;
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
      if (line.empty()) continue;
      const std::string where = input + ":" + std::to_string(n);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw FormatError(where + ": not valid JSON: " + e.what());
      }
      const Problem p = Problem::from_json(j, where);
      if (p.task != task) throw FormatError(where + ": problem of task '" + p.task + "', not --task " + task);
      if (!j.contains("completion") || !j["completion"].is_string())
        throw FormatError(where + ": missing string field 'completion'");
      const RewardBreakdown r = combined_reward(p, j["completion"].get<std::string>(), w);
      if (json) {
        nlohmann::json o;
        o["line"] = n;
        o["id"] = p.id;
        o["total"] = r.total;
        for (const auto& [name, part] : r.parts) o["rewards"][name] = {{"value", part.value}, {"reason", part.reason}};
        std::cout << o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      } else {
        std::printf("%d  %-24s total %.3f\n", n, p.id.c_str(), r.total);
        for (const auto& [name, part] : r.parts) std::printf("    %-9s %.3f  %s\n", name.c_str(), part.value, part.reason.c_str());
      }
    }
  });
}

}  // namespace aha::cli
