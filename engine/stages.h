// The stages of a run. A stage owns its optimiser and data and does one optimiser step
// at a time; the Run (engine/run.h) sequences stages and handles control and recording.
//   PretrainStage: next-token loss on windows of a token stream (every token scored).
//   SftStage: supervised fine-tuning on (prompt, completion) examples, loss only on the
//             completion tokens (the model's per-token mask).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/curriculum.h"
#include "engine/data.h"
#include "engine/data_parallel.h"
#include "engine/model.h"
#include "engine/optim.h"
#include "engine/rewards.h"
#include "engine/store.h"

namespace aha {

// What one optimiser step reports: its scalar metrics, the tokens the stage has seen so
// far, and the MoE routing of the step (tokens per expert and bias, per MoE layer).
struct StepReport {
  std::map<std::string, double> metrics;
  int64_t tokens = 0;
  std::vector<MoeLayerRecord> moe;
  std::vector<TraceRecord> traces;  // completions sampled in the step (GRPO)
  std::vector<Fp8Record> fp8;       // per layer and tensor, when the model trains in FP8
};

// The FP8 statistics of the step's GEMMs into the report: per-layer rows for the store
// and two summary series (largest amax, mean share flushed to zero).
void add_fp8_stats(Model& model, StepReport& rep);

// One stage of a run. step() does one optimiser step; the Run handles control flow.
class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string name() const = 0;
  virtual int64_t total_steps() const = 0;
  virtual int64_t steps_done() const = 0;
  virtual StepReport step() = 0;
  // The step a token generated now belongs to (its traces are recorded under it): the
  // step being taken for a stage that generates inside step(), else steps_done().
  virtual int64_t generating_step() const { return steps_done(); }
  // Evaluation metrics (held-out loss); called every log interval and at the end.
  virtual std::map<std::string, double> evaluate() = 0;
  virtual void save(const std::string& dir) = 0;
  // Marks the stage done without running it (a resumed run past this stage).
  void skip() { skipped_ = true; }
  bool skipped() const { return skipped_; }
  // Called with (sample index in the step, text piece) for every token a stage generates:
  // the live chain of thought. Set by the Run before the stage starts.
  std::function<void(int, const std::string&)> on_token;
  // The completions the last evaluate() generated (split "eval"), handed over once.
  std::vector<TraceRecord> take_eval_traces() { return std::move(eval_traces_); }

 protected:
  std::vector<TraceRecord> eval_traces_;

 private:
  bool skipped_ = false;
};

// Held-out curriculum problems for train.eval_samples: one per task of the pretraining
// mix in turn (tasks with weight > 0), so the live view shows each kind of reasoning.
std::vector<Example> showcase_problems(const RunConfig& cfg);


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
  DataParallel dp_;  // the batch rows split over one model replica per thread
  kernels::Ops& ops_;
  AdamW opt_;
  TrainState state_;
  Rng rng_;
  Corpus corpus_;
  Batch batch_;
  double peak_gflops_ = 0;
  std::vector<Example> showcase_;  // answered greedily at each evaluation (train.eval_samples)
};

// Supervised fine-tuning on prompt/completion examples ([sft]): each sequence is
// "<bos>" prompt " " completion "<eos>", padded to sft.seq_len; only completion tokens
// (and the closing <eos>) are scored.
class SftStage : public Stage {
 public:
  SftStage(const RunConfig& cfg, Model& model, kernels::Ops& ops, double peak_gflops = 0);
  std::string name() const override { return "sft"; }
  int64_t total_steps() const override { return cfg_.sft.steps; }
  int64_t steps_done() const override { return state_.step; }
  StepReport step() override;
  std::map<std::string, double> evaluate() override;
  void save(const std::string& dir) override;
  void restore(const std::string& dir);
  int64_t truncated() const { return truncated_; }

 private:
  // Fills batch_ with examples [first, first + B) of `set` (wrapping around).
  void fill(const std::vector<std::vector<int32_t>>& set, const std::vector<int>& prompt_len, int64_t first);
  RunConfig cfg_;
  TrainConfig tc_;  // [train] with the [sft] learning rate, batch and length
  Model& model_;
  DataParallel dp_;
  kernels::Ops& ops_;
  AdamW opt_;
  TrainState state_;
  Rng rng_;
  std::vector<std::vector<int32_t>> train_, eval_;  // token sequences
  std::vector<int> train_prompt_, eval_prompt_;     // prompt lengths (tokens not scored)
  // The example order of an epoch is a permutation drawn from (seed, epoch) alone, so a
  // restored stage continues exactly where it stopped.
  const std::vector<int>& order(int64_t epoch);
  std::vector<int> order_;                          // the permutation of order_epoch_
  int64_t order_epoch_ = -1;
  Batch batch_;
  int64_t truncated_ = 0;
  double peak_gflops_ = 0;
  std::vector<Example> showcase_;  // answered greedily at each evaluation (train.eval_samples)
};

// Reinforcement learning with GRPO ([grpo], engine/grpo.h): each step samples G
// completions for each of P prompts of the RL task, scores them with the rule-based
// rewards, normalises advantages within each group and takes μ clipped-surrogate updates
// (with a k3 KL penalty to a frozen copy of the starting weights when β > 0).
class GrpoStage : public Stage {
 public:
  GrpoStage(const RunConfig& cfg, Model& model, kernels::Ops& ops);
  ~GrpoStage() override;
  std::string name() const override { return "grpo"; }
  int64_t total_steps() const override { return cfg_.grpo.steps; }
  int64_t steps_done() const override { return state_.step; }
  // samples are drawn inside step() and recorded under the step it completes
  int64_t generating_step() const override { return state_.step + 1; }
  StepReport step() override;
  // Greedy pass@1 (and format, length, language mix, aha rate) on held-out problems.
  std::map<std::string, double> evaluate() override;
  void save(const std::string& dir) override;
  void restore(const std::string& dir);
  // Replaces the configured combined reward (an engine user's own reward function;
  // tests). Must return a finite total.
  std::function<RewardBreakdown(const Problem&, const std::string& completion)> reward_fn;

 private:
  struct Group;
  RunConfig cfg_;
  TrainConfig tc_;  // [train] with GRPO's learning rate, warm-up and a constant schedule
  Model& model_;
  kernels::Ops& ops_;
  DataParallel gen_;               // replicas sharing model_'s weights: one decodes per thread
  AdamW opt_;
  TrainState state_;
  std::unique_ptr<Model> ref_;     // frozen reference (β > 0)
  std::vector<Problem> problems_;  // the RL prompt set (train split)
  std::vector<Example> eval_;      // held-out problems
  int64_t drawn_ = 0;              // prompts drawn so far (the cursor into problems_)
  int64_t tokens_seen_ = 0;        // completion tokens generated so far (the step's token axis)
};

}  // namespace aha
