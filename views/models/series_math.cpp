#include "views/models/series_math.h"

#include <algorithm>
#include <cmath>

namespace aha::studio {

std::vector<double> ema_smooth(const std::vector<double>& values, double weight) {
  return ema_smooth_buckets(values, std::vector<int64_t>(values.size(), 1), weight);
}

std::vector<double> ema_smooth_buckets(const std::vector<double>& means, const std::vector<int64_t>& counts,
                                       double weight) {
  const double w = std::clamp(std::isfinite(weight) ? weight : 0.0, 0.0, kMaxEmaWeight);
  std::vector<double> out(means.size());
  double last = 0.0, accumulated = 0.0;  // accumulated = 1 − w^n, the weight the terms got
  for (size_t i = 0; i < means.size(); i++) {
    const double v = means[i];
    if (!std::isfinite(v)) {
      out[i] = v;
      continue;
    }
    const double n = static_cast<double>(std::max<int64_t>(1, i < counts.size() ? counts[i] : 1));
    const double wn = std::pow(w, n);
    last = last * wn + (1.0 - wn) * v;
    accumulated = accumulated * wn + (1.0 - wn);
    // w = 0 gives accumulated = 1 and last = v exactly; otherwise accumulated > 0
    out[i] = accumulated > 0 ? last / accumulated : v;
  }
  return out;
}

const char* store_axis_name(XAxis axis) {
  switch (axis) {
    case XAxis::Step: return "run_step";
    case XAxis::Tokens: return "run_tokens";
    case XAxis::Wall: return "wall";
  }
  return "run_step";
}

const char* axis_label(XAxis axis) {
  switch (axis) {
    case XAxis::Step: return "step";
    case XAxis::Tokens: return "tokens";
    case XAxis::Wall: return "wall time (s)";
  }
  return "step";
}

RunAxis::RunAxis(const std::vector<RunStoreReader::StageSteps>& stages) {
  std::vector<Stage> ends;
  for (const auto& s : stages) ends.push_back({s.stage, s.last_step, s.last_tokens, 0, 0});
  *this = from_stage_ends(ends);
}

RunAxis RunAxis::from_stage_ends(const std::vector<Stage>& ends) {
  RunAxis a;
  int64_t steps = 0, tokens = 0;
  for (const Stage& e : ends) {
    a.stages_.push_back({e.name, e.last_step, e.last_tokens, steps, tokens});
    steps += e.last_step;
    tokens += e.last_tokens;
  }
  return a;
}

const RunAxis::Stage* RunAxis::find(const std::string& stage) const {
  for (const Stage& s : stages_)
    if (s.name == stage) return &s;
  return nullptr;
}

int64_t RunAxis::run_step(const std::string& stage, int64_t step) const {
  if (const Stage* s = find(stage)) return s->step_offset + step;
  if (stages_.empty()) return step;
  return stages_.back().step_offset + stages_.back().last_step + step;
}

int64_t RunAxis::run_tokens(const std::string& stage, int64_t tokens) const {
  if (const Stage* s = find(stage)) return s->token_offset + tokens;
  if (stages_.empty()) return tokens;
  return stages_.back().token_offset + stages_.back().last_tokens + tokens;
}

double RunAxis::x(XAxis axis, const std::string& stage, int64_t step, int64_t tokens, double wall) const {
  switch (axis) {
    case XAxis::Step: return static_cast<double>(run_step(stage, step));
    case XAxis::Tokens: return static_cast<double>(run_tokens(stage, tokens));
    case XAxis::Wall: return wall;
  }
  return wall;
}

bool RunAxis::extend(const std::string& stage, int64_t step, int64_t tokens) {
  for (size_t i = 0; i < stages_.size(); i++) {
    Stage& s = stages_[i];
    if (s.name != stage) continue;
    const bool grows = step > s.last_step || tokens > s.last_tokens;
    if (!grows) return true;
    if (i + 1 < stages_.size()) return false;  // later stages would move
    s.last_step = std::max(s.last_step, step);
    s.last_tokens = std::max(s.last_tokens, tokens);
    return true;
  }
  const int64_t so = stages_.empty() ? 0 : stages_.back().step_offset + stages_.back().last_step;
  const int64_t to = stages_.empty() ? 0 : stages_.back().token_offset + stages_.back().last_tokens;
  stages_.push_back({stage, step, tokens, so, to});
  return true;
}

bool RunAxis::agrees_with(const RunAxis& other) const {
  for (const Stage& o : other.stages_) {
    const Stage* s = find(o.name);
    if (!s || s->step_offset != o.step_offset || s->token_offset != o.token_offset) return false;
  }
  return true;
}

}  // namespace aha::studio
