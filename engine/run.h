// The engine-level run API that the CLI and the studio both drive: a run is a sequence
// of stages (pretrain, then SFT when [sft] steps > 0; then GRPO when [grpo] steps > 0) executed on a
// worker thread, controlled with start / pause / resume / stop, reporting through an
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
#include "engine/stages.h"
#include "engine/store.h"

namespace aha {

enum class RunStatus { Created, Running, Paused, Finished, Stopped, Failed };
const char* run_status_name(RunStatus s);


// The newest checkpoint under RUN_DIR/checkpoints (by step), or "" when there is none.
std::string latest_checkpoint(const std::string& run_dir);
// A checkpoint directory's stage and step from its name ("…/grpo_step000004" → grpo, 4),
// as the Run names them; false for any other name.
bool checkpoint_stage_step(const std::string& checkpoint_dir, std::string& stage, int64_t& step);

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
  void publish(Event::Kind k, const Stage* s, std::map<std::string, double> m = {}, std::string msg = "");

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
  double wall_offset_ = 0;  // seconds already spent by the run before a resume
  std::string last_ckpt_;
  std::unique_ptr<RunStoreWriter> store_;
  std::map<std::string, double> last_metrics_;  // for the checkpoint rows
};

}  // namespace aha
