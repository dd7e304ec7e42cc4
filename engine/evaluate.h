// `aha eval`: sample completions for held-out problems and score them with the rule-based
// rewards: pass@1 (mean share of correct samples), pass@K, maj@K (majority vote over the
// extracted answers), format rate, completion length, language-mix rate, aha rate.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/curriculum.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/rewards.h"
#include "engine/store.h"

namespace aha {

struct EvalResult {
  std::string task;
  int problems = 0, samples = 0;
  // language_mix_rate: reasoning not purely in the prompt's language (English);
  // code_switch_rate: both scripts inside one reasoning
  double pass1 = 0, passk = 0, majk = 0, format_rate = 0, mean_length = 0, language_mix_rate = 0,
         code_switch_rate = 0, aha_rate = 0, truncated_rate = 0, seconds = 0;
  std::vector<TraceRecord> traces;  // every sample, split "eval", for the run store
  std::map<std::string, double> metrics() const;  // "eval/TASK/pass@1", ...
  std::string to_json() const;
};

// The aha spans of a completion as the run store keeps them: [[begin, end, kind], ...].
std::string aha_spans_json(const std::vector<AhaSpan>& spans);

// One completion of a held-out problem scored as a trace (split "eval", group = problem).
TraceRecord eval_trace(const Example& ex, const Completion& c, int64_t group);

// Greedy completions of a few held-out problems decoded together (the studio's live view
// of reasoning during pretraining and SFT); on_token(problem index, piece) streams them.
// Problems whose R1 prompt leaves fewer than 16 new tokens are skipped.
std::vector<TraceRecord> showcase_traces(Model& m, const std::vector<Example>& problems, int max_new_tokens,
                                         const std::function<void(int, const std::string&)>& on_token = {});

EvalResult evaluate_task(Model& m, const std::vector<Example>& problems, const std::string& task, int samples,
                         const SamplingConfig& s, const std::function<void(int, int)>& progress = {});

}  // namespace aha
