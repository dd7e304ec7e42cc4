// The engine-level run API that the CLI and the studio both drive: a run is a sequence
// of stages (pretrain now; SFT and GRPO arrive with later issues) executed on a worker
// thread, controlled with start / pause / resume / stop, reporting through an
// EventStream. No stage orchestration lives outside the engine.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/data.h"
#include "engine/events.h"
#include "engine/model.h"
#include "engine/store.h"

namespace aha {

enum class RunStatus { Created, Running, Paused, Finished, Stopped, Failed };
const char* run_status_name(RunStatus s);

class Run;

// What one optimiser step reports: its scalar metrics, the tokens the stage has seen so
// far, and the MoE routing of the step (tokens per expert and bias, per MoE layer).
struct StepReport {
  std::map<std::string, double> metrics;
  int64_t tokens = 0;
  std::vector<MoeLayerRecord> moe;
};

// One stage of a run. step() does one optimiser step; the Run handles control flow.
class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string name() const = 0;
  virtual int64_t total_steps() const = 0;
  virtual int64_t steps_done() const = 0;
  virtual StepReport step() = 0;
  // Evaluation metrics (held-out loss); called every log interval and at the end.
  virtual std::map<std::string, double> evaluate() = 0;
  virtual void save(const std::string& dir) = 0;
};

// The newest checkpoint under RUN_DIR/checkpoints (by step), or "" when there is none.
std::string latest_checkpoint(const std::string& run_dir);

// Pretraining (and, with a token mask, any masked-LM stage): AdamW on the model loss.
class PretrainStage : public Stage {
 public:
  // peak_gflops > 0 adds "mfu" to the step metrics.
  PretrainStage(const RunConfig& cfg, Model& model, kernels::Ops& ops, double peak_gflops = 0);
  std::string name() const override { return "pretrain"; }
  int64_t total_steps() const override { return cfg_.train.steps; }
  int64_t steps_done() const override { return state_.step; }
  StepReport step() override;
  std::map<std::string, double> evaluate() override;
  void save(const std::string& dir) override;
  // Continues from a checkpoint written by save(): weights, moments, step, data RNG.
  void restore(const std::string& dir);

 private:
  RunConfig cfg_;
  Model& model_;
  kernels::Ops& ops_;
  AdamW opt_;
  TrainState state_;
  Rng rng_;
  Corpus corpus_;
  Batch batch_;
  double peak_gflops_ = 0;
};

class Run {
 public:
  // run_dir: where checkpoints and the run database (run.db) go ("" = neither).
  // resume_from: a checkpoint to continue; with continue_store the run's existing
  // database is reopened (aha train --resume) instead of a new one created.
  Run(RunConfig cfg, std::string run_dir, std::string resume_from = "", bool continue_store = false);
  ~Run();
  void start();                  // runs the stages on a worker thread (once per Run)
  void pause();
  void resume();
  void stop();                   // finishes the current step, saves, then stops
  void wait();                   // joins the worker
  void run_blocking();           // runs on the calling thread
  RunStatus status() const { return status_.load(); }
  EventStream& events() { return events_; }
  Model& model() { return *model_; }
  const RunConfig& config() const { return cfg_; }
  std::string last_checkpoint() const;

 private:
  void body();
  void claim_start();  // Created → Running, or InvalidArgument
  void emit(Event::Kind k, const Stage* s, std::map<std::string, double> m = {}, std::string msg = "");

  RunConfig cfg_;
  std::string run_dir_;
  std::unique_ptr<Model> model_;
  std::vector<std::unique_ptr<Stage>> stages_;
  EventStream events_;
  std::thread worker_;
  std::atomic<RunStatus> status_{RunStatus::Created};
  std::atomic<bool> stop_{false}, pause_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point t0_;
  std::string last_ckpt_;
  std::unique_ptr<RunStoreWriter> store_;
  std::map<std::string, double> last_metrics_;  // for the checkpoint rows
};

}  // namespace aha
