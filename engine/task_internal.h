// Internal to the tasks (engine/tasks.cpp, engine/task_countdown.cpp): the shared text and
// data helpers and the trace renderer that writes a list of reasoning steps in any
// TraceStyle. Not part of the engine's API.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rng.h"
#include "engine/task.h"

namespace aha {

using nlohmann::json;
using i64 = long long;

namespace task_detail {

std::string S(i64 v);
std::string arith_text(i64 a, char op, i64 b);  // "a op b"
std::string_view trim(std::string_view s);
std::string quote(std::string_view s);
RewardResult compare_integer(const std::string& reference, const std::string& candidate);
void check_task(const Problem& p, const std::string& name);

struct CountdownData { std::vector<int> numbers; int target; };
CountdownData countdown_data(const json& d);

// One reasoning step: label + body(value) + end. `value` is the step's result; when the
// step is the self-corrected one, body is first written with a wrong value.
struct Step {
  std::string label_en, label_zh;                    // "Ones: " / "个位："
  std::function<std::string(i64, bool zh)> body;     // "7 + 8 = 15, write 5 carry 1"
  i64 value = 0;
  bool can_err = false;
  i64 wrong_min = 0;                                 // wrong values stay >= this
  std::optional<i64> wrong_avoid;                    // and differ from this
  bool comma = false;                                // ends with "," (joined to the next step)
  bool new_line = true;                              // cold start: starts a numbered line
};

struct Trace {
  std::vector<Step> steps;
  std::string conclusion_en, conclusion_zh;  // "So 47 + 38 = 85." / "所以 47 + 38 = 85。"
  std::string summary;                       // cold start: "47 + 38 = 85"
  std::string answer;                        // inside <answer>
};

// "<think> steps ... </think> <answer> answer </answer>" in the style's language, with
// code-switching and a caught mistake drawn from rng.
std::string render(const Trace& t, const TraceStyle& style, Rng& rng);

}  // namespace task_detail

// The Countdown task (engine/task_countdown.cpp).
const Task& countdown_task();

}  // namespace aha
