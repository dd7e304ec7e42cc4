// aha train / aha init
#include <algorithm>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "app/cli.h"
#include "app/progress.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/run.h"

namespace aha::cli {
namespace fs = std::filesystem;

namespace {
std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

std::string default_run_dir(const std::string& name) {
  char stamp[32];
  std::time_t t = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  return (fs::path("runs") / (name + "-" + stamp)).string();
}
}  // namespace

void add_init(CLI::App& app) {
  auto* cmd = app.add_subcommand("init", "Write a randomly initialised checkpoint");
  static std::string source, out;
  static uint64_t seed = 0;
  static bool seed_set = false;
  cmd->add_option("config", source, "Preset name (e.g. tiny) or TOML file")->required();
  cmd->add_option("--out", out, "Checkpoint directory to write")->required();
  cmd->add_option("--seed", seed, "Initialisation seed (default: train.seed of the config)")
      ->each([](const std::string&) { seed_set = true; });
  cmd->callback([] {
    RunConfig cfg = load_config(source);
    if (seed_set) cfg.train.seed = seed;
    if (fs::exists(out) && !fs::is_empty(out) && !fs::exists(fs::path(out) / "model.safetensors"))
      throw InvalidArgument("--out '" + out + "' exists and is not a checkpoint; refusing to overwrite it");
    Model model(cfg.model, kernels::cpu_ops());
    model.init_weights(cfg.train.seed);
    save_checkpoint(out, cfg, model);
    std::cout << "wrote " << out << " (" << model.params_total() << " parameters, "
              << model.params_active() << " active per token, seed " << cfg.train.seed << ")\n";
  });
}

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model (pretrain, then SFT and GRPO when the config has them) with a terminal progress bar");
  static std::string source, run_dir, resume, data, resume_run, notes;
  static std::vector<std::string> tags, sets;
  static int steps = 0;
  cmd->add_option("config", source, "Preset name (e.g. tiny) or TOML file");
  cmd->add_option("--set", sets, "Override one key, TABLE.KEY=VALUE (repeatable), e.g. --set grpo.reward_language=0.5");
  cmd->add_option("--run-dir", run_dir, "Where checkpoints go (default runs/<name>-<time>)");
  cmd->add_option("--steps", steps, "Override train.steps")->check(CLI::PositiveNumber);
  cmd->add_option("--resume-from", resume, "Start a new run from a checkpoint directory");
  cmd->add_option("--resume", resume_run, "Continue an interrupted run (its directory) from its last checkpoint");
  cmd->add_option("--data", data, "Train on this UTF-8 text file (overrides data.source)");
  cmd->add_option("--tag", tags, "A tag for the run (repeatable; added to the config's tags), shown by `aha runs`");
  cmd->add_option("--notes", notes, "Free-text notes stored with the run (replace the config's notes)");
  cmd->callback([] {
    if (!resume_run.empty()) {
      if (!source.empty() || !resume.empty() || !run_dir.empty())
        throw InvalidArgument("--resume RUN_DIR continues that run with its own configuration; "
                              "do not also give a config, --resume-from or --run-dir");
      if (!fs::exists(fs::path(resume_run) / store_file_name()))
        throw IoError("--resume: '" + resume_run + "' is not a run directory (no " + store_file_name() + ")");
      resume = latest_checkpoint(resume_run);
      if (resume.empty()) throw IoError("--resume: '" + resume_run + "' has no checkpoint to continue from");
      run_dir = resume_run;
    }
    if (source.empty() && resume.empty()) throw InvalidArgument("train: give a preset or config file (e.g. `aha train tiny`)");
    RunConfig cfg = source.empty() ? read_checkpoint_config(resume) : load_config(source);
    if (steps > 0) {
      cfg.train.steps = steps;
      cfg.train.warmup_steps = std::min(cfg.train.warmup_steps, steps);
      if (cfg.train.decay_steps > steps) cfg.train.decay_steps = 0;  // decay to the new last step
    }
    if (!data.empty()) {
      if (!fs::is_regular_file(data)) throw IoError("--data: '" + data + "' is not a readable file");
      cfg.data.source = data;
    }
    if (!sets.empty() && !resume_run.empty())
      throw InvalidArgument("--set: a continued run (--resume) keeps its own configuration");
    cfg = apply_overrides(cfg, sets);  // validates
    // --tag adds to the config's tags; --notes replaces its notes
    for (const auto& t : tags)
      if (std::find(cfg.tags.begin(), cfg.tags.end(), t) == cfg.tags.end()) cfg.tags.push_back(t);
    if (!notes.empty()) cfg.notes = notes;
    if (run_dir.empty()) run_dir = default_run_dir(cfg.name);
    fs::create_directories(run_dir);
    spdlog::info("run '{}' → {}", cfg.name, run_dir);
    if (!resume_run.empty()) spdlog::info("continuing from {}", resume);
    Run run(cfg, run_dir, resume, !resume_run.empty());
    spdlog::info("model: {} parameters, {} active per token; batch {}×{} tokens, {} steps",
                 run.model().params_total(), run.model().params_active(), cfg.train.batch_size,
                 cfg.train.seq_len, cfg.train.steps);
    std::signal(SIGINT, on_sigint);
    run.start();
    ProgressBar bar(isatty(STDERR_FILENO));
    bool stopping = false;
    for (;;) {
      if (g_interrupted && !stopping) { run.stop(); stopping = true; }
      auto e = run.events().pop(std::chrono::milliseconds(200));
      if (e && !bar.handle(*e)) break;
    }
    run.wait();
    std::signal(SIGINT, SIG_DFL);
    if (run.status() == RunStatus::Failed) throw Error("training failed (see the message above)");
    std::cout << "checkpoint: " << run.last_checkpoint() << "\n";
  });
}

}  // namespace aha::cli
