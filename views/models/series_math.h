// The arithmetic behind the charts, free of Qt and of the database so that it is tested
// on hand-written inputs: TensorBoard's debiased EMA smoothing, and the run-wide x axes
// (steps and token counts restart in every stage; a chart of a whole run lays pretrain,
// SFT and GRPO end to end).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/store.h"

namespace aha::studio {

// The largest smoothing weight: at 0.999 the EMA still moves (1.0 would freeze it).
constexpr double kMaxEmaWeight = 0.999;

// TensorBoard's smoothing: last = w·last + (1−w)·v, divided by the weight the terms
// actually received (1 − w^n) so that the start is not pulled towards zero and is not
// biased to the first value either; a constant series stays exactly constant. weight is
// clamped to [0, kMaxEmaWeight]; 0 returns the values. Non-finite values are passed
// through and not accumulated (one NaN does not poison the rest of the curve).
std::vector<double> ema_smooth(const std::vector<double>& values, double weight);

// The same over decimated buckets in x order: a bucket of n points counts as n points
// at its mean (weight w^n), so the curve has the same smoothness at every zoom level;
// with every count 1 it equals ema_smooth. counts.size() must equal values.size().
std::vector<double> ema_smooth_buckets(const std::vector<double>& means, const std::vector<int64_t>& counts,
                                       double weight);

// The x axes a chart offers. Step and Tokens are run-wide (stage offsets added); wall
// time is already continuous over the run.
enum class XAxis { Step, Tokens, Wall };
const char* store_axis_name(XAxis axis);  // the decimate() axis: "run_step", "run_tokens", "wall"
const char* axis_label(XAxis axis);       // "step", "tokens", "wall time (s)"

// One run's stages laid end to end. Built from the store's stage_steps() (or from stage
// ends alone: the offsets are the running sums), and grown by live points.
class RunAxis {
 public:
  struct Stage {
    std::string name;
    int64_t last_step = 0, last_tokens = 0;
    int64_t step_offset = 0, token_offset = 0;
  };
  RunAxis() = default;
  explicit RunAxis(const std::vector<RunStoreReader::StageSteps>& stages);
  // (name, last step, last tokens) in stage order; offsets computed here.
  static RunAxis from_stage_ends(const std::vector<Stage>& ends);

  const std::vector<Stage>& stages() const { return stages_; }
  bool knows(const std::string& stage) const { return find(stage) != nullptr; }
  // The point's position on `axis`. A stage not on the axis yet starts after every
  // known stage (where it will be once it is recorded).
  double x(XAxis axis, const std::string& stage, int64_t step, int64_t tokens, double wall) const;
  int64_t run_step(const std::string& stage, int64_t step) const;
  int64_t run_tokens(const std::string& stage, int64_t tokens) const;
  // Takes in a live point. A new stage goes at the end; the last stage may grow. Returns
  // false when the point moves a stage that others come after (a resumed earlier stage):
  // the positions already drawn are then stale and the caller reloads.
  bool extend(const std::string& stage, int64_t step, int64_t tokens);
  // True when every stage of `other` has the same offsets here (a prefix match): points
  // placed with `other` are still where this axis would put them.
  bool agrees_with(const RunAxis& other) const;

 private:
  const Stage* find(const std::string& stage) const;
  std::vector<Stage> stages_;
};

}  // namespace aha::studio
