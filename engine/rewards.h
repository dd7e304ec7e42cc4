// Rule-based rewards (R1 §2.2.2, TinyZero) and the text metrics the studio shows:
// language mixing and "aha" self-corrections. Every function takes hostile completions
// — repeated or nested tags, huge numbers, division by zero, 100,000-character outputs,
// invalid UTF-8, empty strings — and returns a score and a reason, never throws or hangs.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/task.h"

namespace aha {

// "<think> ... </think> <answer> ... </answer>" split apart.
struct ParsedCompletion {
  bool well_formed = false;  // each tag exactly once, in order, nothing but space after </answer>
  std::string think, answer; // contents (answer trimmed); empty when absent
  bool has_answer = false;   // an <answer>...</answer> pair was found (even if not well formed)
  std::string reason;        // what is wrong when not well formed
};
ParsedCompletion parse_completion(const std::string& completion);

RewardResult format_reward(const std::string& completion);
RewardResult accuracy_reward(const Problem& p, const std::string& completion);
// Share of the reasoning's letters in the target language's script ("en": Latin,
// "zh": CJK), as R1's language-consistency reward.
RewardResult language_reward(const std::string& completion, const std::string& target_language);

struct RewardWeights {
  double accuracy = 1.0, format = 0.1, language = 0.0;
  std::string target_language = "en";
  bool tinyzero_countdown = false;  // TinyZero's scoring: 1.0 correct, 0.1 well formed but wrong, 0 no answer
};
struct RewardBreakdown {
  double total = 0.0;
  std::map<std::string, RewardResult> parts;  // "accuracy", "format", "language" (or "tinyzero")
};
RewardBreakdown combined_reward(const Problem& p, const std::string& completion, const RewardWeights& w);

// Countdown: `expr` uses each of `numbers` exactly once, only digits, + - * / ( ) and
// spaces, and evaluates to `target` within 1e-5. Parsed by the project's own parser.
RewardResult countdown_check(const std::vector<int>& numbers, int target, const std::string& expr);

// Language mix of a text: letters in CJK vs Latin script.
struct LanguageMix {
  double cjk_share = 0.0, latin_share = 0.0;  // of the letters counted
  bool mixed = false;                         // both scripts present (each ≥ 2 letters): a code switch
  // Not purely in the target language ("en": some CJK letters; "zh": some Latin letters):
  // R1-Zero's language mixing, a chain of thought that leaves the prompt's language.
  bool off_target(const std::string& target) const { return target == "zh" ? latin_share > 0 : cjk_share > 0; }
};
LanguageMix language_mix(const std::string& text);
// Where a text leaves the target language: byte ranges [begin, end) of its off-target
// letters ("en": CJK characters; "zh": Latin words of two letters or more), counted as
// language_mix counts them, so the spans are non-empty exactly when off_target() is true.
// Runs separated only by characters of neither script (spaces, digits, punctuation) are
// one span; a span starts and ends on a letter. An unknown target language → no spans.
struct ByteSpan { size_t begin = 0, end = 0; };
std::vector<ByteSpan> off_target_spans(const std::string& text, const std::string& target_language);

// "Aha" self-corrections: keyword spans in both languages plus the structural pattern
// "an intermediate result stated, then revised". Byte offsets [begin, end) into the text.
struct AhaSpan { size_t begin = 0, end = 0; std::string kind; };  // kind: "keyword" | "revision"
std::vector<AhaSpan> aha_spans(const std::string& text);
const std::vector<std::string>& default_aha_keywords();  // configurable list (en + zh)
std::vector<AhaSpan> aha_spans(const std::string& text, const std::vector<std::string>& keywords);

}  // namespace aha
