// Verifiable reasoning tasks: generators of problems whose answers a rule can check, the
// worked solutions the curriculum is made of, and each task's accuracy check.
//
// A problem is one JSON object per line in the files `aha data` writes (Problem::to_json).
// Splits are disjoint by problem: a problem belongs to the eval split when a hash of its
// canonical id falls under the eval fraction, so train and eval never share one.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/rng.h"

namespace aha {

struct RewardResult {
  double value = 0.0;
  std::string reason;  // why, in words a user can check by hand
};

struct Problem {
  std::string task;        // "arithmetic" | "countdown" | "linear"
  std::string id;          // canonical form, unique within the task (the split key)
  std::string question;    // the user's question, without the R1 template
  std::string answer;      // the reference final answer (canonical text)
  nlohmann::json data;     // task-specific fields (operands, numbers, target, ...)
  int difficulty = 1;
  nlohmann::json to_json() const;
  static Problem from_json(const nlohmann::json& j, const std::string& origin);  // FormatError
};

// The R1 template (DeepSeek-R1 Table 1) around a question; the model's completion follows.
std::string r1_prompt(const std::string& question);

// How a worked solution is written.
struct TraceStyle {
  std::string language = "en";   // "en" or "zh": the language of the reasoning
  double code_switch = 0.0;      // probability that a reasoning step switches to the other language
  double self_correction = 0.0;  // probability of a wrong intermediate result caught and fixed
                                 // ("Wait, let me recheck..." / "等等，再检查一下...")
  bool cold_start = false;       // R1 cold-start format: English, readable reasoning, then a
                                 // short summary after the reasoning
  bool two_facts = false;        // arithmetic: a carried or borrowed column as two two-operand
                                 // facts ("4 + 3 = 7, 7 + 1 = 8"), not one sum ("4 + 3 + 1 = 8")
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  // A random problem of the given difficulty (1 = easiest; each task documents its knob).
  virtual Problem generate(Rng& rng, int difficulty) const = 0;
  // A worked solution: "<think> reasoning </think> <answer> answer </answer>".
  virtual std::string solution(const Problem& p, const TraceStyle& style, Rng& rng) const = 0;
  // Is `answer` (the text inside <answer>, already extracted) correct for p? Value 1 or 0.
  // Never throws on hostile input: anything unparsable is 0 with the reason.
  virtual RewardResult check_answer(const Problem& p, const std::string& answer) const = 0;
};

const Task& task_by_name(const std::string& name);  // InvalidArgument listing the tasks
std::vector<std::string> task_names();

// Split membership by a stable hash (FNV-1a, then splitmix64's finaliser) of task + id:
// per problem, so problems that share an operand fall on both sides.
bool in_eval_split(const Problem& p, double eval_fraction);
// Draws problems of one split: loops generate() until `n` problems of that split with
// distinct ids are found (throws InvalidArgument if the task cannot supply that many).
std::vector<Problem> draw_problems(const Task& t, uint64_t seed, int n, int difficulty, bool eval,
                                   double eval_fraction);

}  // namespace aha
