// Rule-based rewards and the Countdown parser — on hand-written
// examples and hostile completions (repeated/nested tags, 100,000 characters, invalid
// UTF-8, 300-digit numbers, division by zero, 10,000-deep parentheses, unary minus).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "engine/expr.h"
#include "engine/rewards.h"

namespace aha {
namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }
#define EXPECT_HAS(s, sub) EXPECT_TRUE(contains((s), (sub))) << "\"" << (s) << "\" lacks \"" << (sub) << "\""

Problem countdown(std::vector<int> numbers, int target) {
  Problem p;
  p.task = "countdown";
  p.id = "test";
  p.question = "countdown";
  p.answer = "";
  p.data = {{"numbers", numbers}, {"target", target}};
  return p;
}

std::string wrap(const std::string& think, const std::string& answer) {
  return "<think>" + think + "</think> <answer>" + answer + "</answer>";
}

// ---- parse_completion / format_reward --------------------------------------------------

TEST(Rewards, ParseWellFormed) {
  const auto pc = parse_completion("<think> 25 * 3 = 75, 75 + 4 = 79 </think>\n<answer> 25 * 3 + 4 </answer>");
  EXPECT_TRUE(pc.well_formed) << pc.reason;
  EXPECT_TRUE(pc.has_answer);
  EXPECT_EQ(pc.answer, "25 * 3 + 4");
  EXPECT_EQ(pc.think, " 25 * 3 = 75, 75 + 4 = 79 ");
  // Leading and trailing whitespace is allowed; nothing between the blocks but whitespace.
  EXPECT_TRUE(parse_completion("  \n<think>a</think><answer>b</answer>\n\n ").well_formed);
  EXPECT_TRUE(parse_completion("<think></think><answer></answer>").well_formed);
}

TEST(Rewards, ParseMissingTags) {
  auto pc = parse_completion("just some text");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_FALSE(pc.has_answer);
  EXPECT_HAS(pc.reason, "missing <think>");
  EXPECT_HAS(pc.reason, "missing </answer>");
  pc = parse_completion("<think> no answer </think>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_FALSE(pc.has_answer);
  EXPECT_EQ(pc.think, " no answer ");
  EXPECT_EQ(pc.reason, "missing <answer>; missing </answer>");
  // An answer without a think block: has an answer, not well formed.
  pc = parse_completion("<answer> 7 </answer>");
  EXPECT_TRUE(pc.has_answer);
  EXPECT_EQ(pc.answer, "7");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "missing <think>; missing </think>");
  // An unclosed <answer> is no answer.
  pc = parse_completion("<think>x</think><answer> 7");
  EXPECT_FALSE(pc.has_answer);
  EXPECT_HAS(pc.reason, "missing </answer>");
}

TEST(Rewards, ParseRepeatedTags) {
  auto pc = parse_completion("<think>a</think><answer>1</answer><answer>2</answer>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "<answer> appears 2 times; </answer> appears 2 times");
  EXPECT_TRUE(pc.has_answer);
  EXPECT_EQ(pc.answer, "2");  // the last pair
  pc = parse_completion("<think>a</think><think>b</think><answer>1</answer>");
  EXPECT_EQ(pc.reason, "<think> appears 2 times; </think> appears 2 times");
  EXPECT_EQ(pc.think, "a");
  // Repeated closing tags (TinyZero PR #112's hack).
  pc = parse_completion("<think>a</think><answer>5</answer></answer></answer>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "</answer> appears 3 times");
  EXPECT_EQ(pc.answer, "5");
}

TEST(Rewards, ParseNestedTags) {
  auto pc = parse_completion("<think><think>a</think></think><answer><answer>5</answer></answer>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_HAS(pc.reason, "<think> appears 2 times");
  EXPECT_HAS(pc.reason, "<answer> appears 2 times");
  EXPECT_TRUE(pc.has_answer);
  EXPECT_EQ(pc.answer, "5");  // the innermost, last pair
  EXPECT_EQ(pc.think, "<think>a");
}

TEST(Rewards, ParseAnswerInsideThink) {
  auto pc = parse_completion("<think> maybe <answer>3</answer>? no </think> <answer> 4 </answer>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "<answer> appears 2 times; </answer> appears 2 times");
  EXPECT_EQ(pc.answer, "4");
  // Only an opening <answer> inside the think block.
  pc = parse_completion("<think> I will write <answer> later </think> <answer> 4 </answer>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "<answer> appears 2 times");
  EXPECT_EQ(pc.answer, "4");
  // Answer inside think, nothing after.
  pc = parse_completion("<think> <answer>3</answer> </think>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "tags out of order: <answer> comes before </think>");
  EXPECT_EQ(pc.answer, "3");
}

TEST(Rewards, ParseTextOutsideBlocks) {
  auto pc = parse_completion(wrap("a", "1") + " and more text");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "text after </answer>");
  EXPECT_EQ(pc.answer, "1");
  pc = parse_completion("Sure! " + wrap("a", "1"));
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "text before <think>");
  pc = parse_completion("<think>a</think> so: <answer>1</answer>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "text between </think> and <answer>");
}

TEST(Rewards, ParseOutOfOrder) {
  auto pc = parse_completion("</think><think>a<answer>1</answer>");
  EXPECT_FALSE(pc.well_formed);
  EXPECT_EQ(pc.reason, "tags out of order: </think> comes before <think>");
  pc = parse_completion("<answer>1</answer><think>a</think>");
  EXPECT_EQ(pc.reason, "tags out of order: <answer> comes before </think>");
  EXPECT_EQ(pc.answer, "1");
  pc = parse_completion("<think>a</think></answer>1<answer>");
  EXPECT_EQ(pc.reason, "tags out of order: </answer> comes before <answer>");
  EXPECT_FALSE(pc.has_answer);
  // Upper case tags are not tags.
  pc = parse_completion("<THINK>a</THINK><ANSWER>1</ANSWER>");
  EXPECT_FALSE(pc.has_answer);
  EXPECT_HAS(pc.reason, "missing <think>");
}

TEST(Rewards, ParseEmpty) {
  for (const std::string s : {"", "   ", "\n\t\n"}) {
    const auto pc = parse_completion(s);
    EXPECT_FALSE(pc.well_formed);
    EXPECT_FALSE(pc.has_answer);
    EXPECT_EQ(pc.reason, "empty completion");
    EXPECT_EQ(format_reward(s).value, 0.0);
    EXPECT_EQ(format_reward(s).reason, "not well formed: empty completion");
  }
}

TEST(Rewards, ParseInvalidUtf8) {
  const std::string bad = "\xff\xfe\xc3\x28\xe2\x82";
  auto pc = parse_completion("<think>" + bad + "</think><answer>" + bad + " 5</answer>");
  EXPECT_TRUE(pc.well_formed) << pc.reason;  // bytes, not characters
  EXPECT_EQ(pc.answer, bad + " 5");
  pc = parse_completion(bad);
  EXPECT_FALSE(pc.well_formed);
  EXPECT_HAS(pc.reason, "missing <think>");
  // A NUL byte inside is just a byte.
  const std::string with_nul = std::string("<think>a\0b</think><answer>1</answer>", 36);
  pc = parse_completion(with_nul);
  EXPECT_TRUE(pc.well_formed) << pc.reason;
  EXPECT_EQ(pc.think.size(), 3u);
}

TEST(Rewards, FormatReward) {
  EXPECT_EQ(format_reward(wrap(" reasoning ", " 5 ")).value, 1.0);
  auto r = format_reward(wrap("a", "1") + "!");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "not well formed: text after </answer>");
  r = format_reward("<think>a</think>");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_HAS(r.reason, "missing <answer>");
}

TEST(Rewards, HugeCompletionsRunInLinearTime) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> inputs;
  inputs.push_back("<think>" + std::string(100000, 'a') + "</think><answer>1</answer>");
  std::string tags;
  while (tags.size() < 100000) tags += "<answer></think><think>";
  inputs.push_back(tags);
  std::string opens;
  while (opens.size() < 100000) opens += "<answer>";
  inputs.push_back(opens + "</answer>");
  std::string eq;
  while (eq.size() < 100000) eq += "3 * 25 = 7";
  inputs.push_back(eq);
  std::string mixed;
  while (mixed.size() < 100000) mixed += "Wait, 等等 check\xff x = 1 x = 2 ";
  inputs.push_back(mixed);
  inputs.push_back(std::string(100000, '='));
  inputs.push_back(std::string(100000, '\xe4'));
  const Problem p = countdown({25, 3, 4}, 79);
  for (const std::string& s : inputs) {
    const auto pc = parse_completion(s);
    EXPECT_FALSE(pc.reason.empty());
    (void)format_reward(s);
    (void)language_reward(s, "en");
    (void)language_mix(s);
    (void)aha_spans(s);
    (void)countdown_check({25, 3, 4}, 79, s);
    (void)accuracy_reward(p, s);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 1.0);
  // The opened-and-closed case: the last pair is the innermost.
  EXPECT_EQ(parse_completion(opens + "</answer>").answer, "");
  EXPECT_TRUE(parse_completion(opens + "</answer>").has_answer);
}

// ---- Countdown expression parser -------------------------------------------------------

TEST(Rewards, ExprEvaluator) {
  auto e = evaluate_countdown_expr("8 - 3 - 2");
  ASSERT_TRUE(e.value_ok) << e.syntax_error << e.value_error;
  EXPECT_EQ(to_string(e.value), "3");  // left associative
  e = evaluate_countdown_expr("8 / 4 / 2");
  EXPECT_EQ(to_string(e.value), "1");
  e = evaluate_countdown_expr("2 + 3 * 4");
  EXPECT_EQ(to_string(e.value), "14");  // precedence
  e = evaluate_countdown_expr("(2 + 3) * 4");
  EXPECT_EQ(to_string(e.value), "20");
  e = evaluate_countdown_expr("7 / 2");
  EXPECT_EQ(to_string(e.value), "7/2");
  e = evaluate_countdown_expr("1 - 7 / 2");
  EXPECT_EQ(to_string(e.value), "-5/2");
  e = evaluate_countdown_expr(" ( 25\t-\n4 ) * 3 + 16 ");
  EXPECT_EQ(to_string(e.value), "79");
  EXPECT_EQ(e.numbers, (std::vector<int64_t>{25, 4, 3, 16}));
  e = evaluate_countdown_expr("007 + 1");  // numbers by value
  EXPECT_EQ(e.numbers, (std::vector<int64_t>{7, 1}));
}

TEST(Rewards, CountdownCorrect) {
  EXPECT_EQ(countdown_check({25, 3, 4}, 79, "25 * 3 + 4").value, 1.0);
  EXPECT_EQ(countdown_check({25, 3, 4}, 79, "4 + 3 * 25").value, 1.0);
  EXPECT_EQ(countdown_check({25, 3, 4}, 79, "((25)*(3))+(4)").value, 1.0);
  const auto r = countdown_check({1, 2, 3}, 1, "(1 + 2) / 3");
  EXPECT_EQ(r.value, 1.0);
  EXPECT_EQ(r.reason, "evaluates to 1 = 1");
  // Exact rationals: 1/3 * 3 is exactly 1; fractions through the middle are fine.
  EXPECT_EQ(countdown_check({1, 3, 3}, 1, "1 / 3 * 3").value, 1.0);
  EXPECT_EQ(countdown_check({8, 3, 8, 3}, 24, "8 / (3 - 8 / 3)").value, 1.0);
  // Repeated given numbers used the given number of times.
  EXPECT_EQ(countdown_check({5, 5, 2}, 12, "5 + 5 + 2").value, 1.0);
}

TEST(Rewards, CountdownWrongValue) {
  auto r = countdown_check({25, 3, 4}, 79, "25 * 3 + 4 - 1 + 0");
  EXPECT_EQ(r.value, 0.0);
  r = countdown_check({25, 3, 4}, 79, "25 * 3 + 4 - 0");
  EXPECT_EQ(r.value, 0.0);  // 0 is not one of the numbers
  EXPECT_EQ(r.reason, "uses 0, which is not one of the numbers");
  r = countdown_check({25, 3, 4}, 79, "25 * (3 + 4)");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "evaluates to 175, not 79");
  r = countdown_check({26, 3, 4}, 79, "26 * 3 - 4 + 0 * 0");
  EXPECT_EQ(r.value, 0.0);
  r = countdown_check({25, 3, 4}, 79, "25 * 3 + 4 / 1");
  EXPECT_EQ(r.reason, "uses 1, which is not one of the numbers");
  r = countdown_check({7, 2, 1}, 79, "7 / 2 + 1");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "evaluates to 9/2 (4.5), not 79");
  r = countdown_check({25, 3, 3}, 79, "25 * 3 + 3");
  EXPECT_EQ(r.reason, "evaluates to 78, not 79");
}

TEST(Rewards, CountdownNumbersUsedExactlyOnce) {
  auto r = countdown_check({25, 3, 7}, 79, "7 * 7 + 25 + 3");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "uses 7 twice");
  r = countdown_check({25, 3, 4}, 79, "3 + 4");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "does not use 25");
  r = countdown_check({25, 3, 4}, 79, "25 * 3 + 8");
  EXPECT_EQ(r.reason, "uses 8, which is not one of the numbers; does not use 4");
  r = countdown_check({5, 5, 2}, 12, "5 + 7");
  EXPECT_EQ(r.reason, "uses 7, which is not one of the numbers; does not use 2; uses 5 once but it is given twice");
  r = countdown_check({5, 5, 2}, 12, "5 + 5 + 5 - 2 - 1");
  EXPECT_HAS(r.reason, "uses 5 3 times but it is given twice");
  // The multiset is checked before the value: "1/0" with numbers {1, 0} divides by zero.
  r = countdown_check({1, 0}, 3, "1 / 0");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_HAS(r.reason, "division by zero");
  r = countdown_check({4}, 3, "1 / 0");
  EXPECT_EQ(r.reason, "uses 0, which is not one of the numbers; uses 1, which is not one of the numbers; does not use 4");
}

TEST(Rewards, CountdownInvalidCharacters) {
  auto r = countdown_check({25, 3, 7}, 82, "3 * 25 + 7 = 82");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "invalid character '=' at position 11 (only digits, + - * / ( ) and spaces are allowed)");
  r = countdown_check({25, 3, 4}, 79, "25 x 3 + 4");
  EXPECT_HAS(r.reason, "invalid character 'x' at position 3");
  r = countdown_check({25, 3, 4}, 79, "25 \xc3\x97 3 + 4");  // U+00D7 multiplication sign
  EXPECT_HAS(r.reason, "invalid character byte 0xC3 at position 3");
  r = countdown_check({25, 3, 4}, 79, "75.0 + 4");
  EXPECT_HAS(r.reason, "invalid character '.' at position 2");
  r = countdown_check({25, 3, 4}, 79, "__import__('os')");
  EXPECT_HAS(r.reason, "invalid character '_' at position 0");
  r = countdown_check({2, 3}, 8, "2 ** 3");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "expected a number or '(' at position 3, found '*'");
  r = countdown_check({2, 3}, 8, std::string("2 \0 3", 5));
  EXPECT_HAS(r.reason, "invalid character byte 0x00 at position 2");
}

TEST(Rewards, CountdownUnaryMinus) {
  auto r = countdown_check({3, 25, 4}, 68, "-3 + 25 * 4");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "unary minus at position 0 is not allowed (numbers are used as given)");
  r = countdown_check({3, 25, 4}, 22, "25 - (-3)");
  EXPECT_HAS(r.reason, "unary minus at position 6");
  r = countdown_check({3, 25}, 28, "25 + +3");
  EXPECT_HAS(r.reason, "unary plus at position 5");
  r = countdown_check({3, 25}, 22, "25 - - 3");
  EXPECT_HAS(r.reason, "unary minus at position 5");
}

TEST(Rewards, CountdownDivisionByZero) {
  auto r = countdown_check({1, 0}, 0, "1/0");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "division by zero (the '/' at position 1)");
  r = countdown_check({6, 3, 3}, 2, "6 / (3 - 3)");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_HAS(r.reason, "division by zero");
  // A division by zero in a sub-expression multiplied away is still refused.
  r = countdown_check({1, 0, 0}, 0, "0 * (1 / 0)");
  EXPECT_HAS(r.reason, "division by zero");
}

TEST(Rewards, CountdownHugeNumbers) {
  const std::string n300(300, '9');
  auto r = countdown_check({9}, 9, n300);
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "number too long: 300 digits at position 0 (at most 9)");
  r = countdown_check({9, 1}, 9, "1 * " + n300);
  EXPECT_HAS(r.reason, "number too long: 300 digits at position 4");
  r = countdown_check({1}, 1, "0000000001");  // 10 digits as written
  EXPECT_HAS(r.reason, "number too long: 10 digits");
  EXPECT_EQ(countdown_check({999999999}, 999999999, "999999999").value, 1.0);
  // Intermediate overflow of the 64-bit rational.
  r = countdown_check({999999999, 999999999, 999999999}, 1, "999999999 * 999999999 * 999999999");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "overflow: an intermediate value (the '*' at position 22) does not fit in 64 bits");
  // 1/999999999 + 1/999999998 ... denominators stay exact or overflow is reported.
  r = countdown_check({1, 999999999, 1, 999999998, 1, 999999997}, 0,
                      "1 / 999999999 + 1 / 999999998 + 1 / 999999997");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_HAS(r.reason, "overflow");
}

TEST(Rewards, CountdownDepthAndLengthLimits) {
  const std::string deep10k = std::string(10000, '(') + "1" + std::string(10000, ')');
  auto r = countdown_check({1}, 1, deep10k);
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "expression too long: 20001 bytes (at most 1000)");
  // Within the length limit but over the depth limit.
  const std::string deep150 = std::string(150, '(') + "1" + std::string(150, ')');
  r = countdown_check({1}, 1, deep150);
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "nested too deep: more than 100 levels of parentheses (at position 100)");
  const std::string deep100 = std::string(100, '(') + "1" + std::string(100, ')');
  EXPECT_EQ(countdown_check({1}, 1, deep100).value, 1.0);
  // Unbalanced 10,000 deep, no closing.
  r = countdown_check({1}, 1, std::string(10000, '('));
  EXPECT_HAS(r.reason, "too long");
  r = countdown_check({1}, 1, std::string(999, ' ') + "1");
  EXPECT_EQ(r.value, 1.0);
  r = countdown_check({1}, 1, std::string(1000, ' ') + "1");
  EXPECT_EQ(r.reason, "expression too long: 1001 bytes (at most 1000)");
}

TEST(Rewards, CountdownSyntaxErrors) {
  EXPECT_EQ(countdown_check({1}, 1, "").reason, "empty expression");
  EXPECT_EQ(countdown_check({1}, 1, "   ").reason, "empty expression");
  EXPECT_EQ(countdown_check({3, 4}, 7, "3 4").reason, "expected an operator at position 2, found '4'");
  EXPECT_EQ(countdown_check({3, 4}, 7, "(3 + 4").reason, "unclosed '(' at position 0");
  EXPECT_EQ(countdown_check({3, 4}, 7, "3 + 4)").reason, "unmatched ')' at position 5");
  EXPECT_EQ(countdown_check({3, 4}, 7, "3 +").reason, "expression ends early: expected a number or '(' at position 3");
  EXPECT_EQ(countdown_check({3, 4}, 7, "()").reason, "expected a number or '(' at position 1, found ')'");
  EXPECT_EQ(countdown_check({3, 4}, 12, "3(4)").reason, "expected an operator at position 1, found '('");
  EXPECT_EQ(countdown_check({3, 4}, 7, "(3 4)").reason,
            "expected ')' at position 3 (for the '(' at position 0), found '4'");
}

// ---- accuracy / language / combined ---------------------------------------------------
// accuracy_reward calls task_by_name("countdown").check_answer (engine/tasks.cpp).

TEST(Rewards, AccuracyRewardCountdown) {
  const Problem p = countdown({25, 3, 4}, 79);
  auto r = accuracy_reward(p, wrap("25*3=75", " 25 * 3 + 4 "));
  EXPECT_EQ(r.value, 1.0) << r.reason;
  r = accuracy_reward(p, wrap("25*3=75", "25 * 3 - 4"));
  EXPECT_EQ(r.value, 0.0);
  EXPECT_FALSE(r.reason.empty());
  // Not well formed but the last answer is correct: accuracy is independent of format.
  r = accuracy_reward(p, "<answer>1</answer> blah <answer>25 * 3 + 4</answer> trailing");
  EXPECT_EQ(r.value, 1.0) << r.reason;
  // Hostile answers: a score and a reason, never an exception.
  const std::vector<std::string> hostile = {"3 * 25 + 4 = 79", "-3 + 25 * 4", "1/0", "\xff\xfe",
                                            std::string(300, '9'), std::string(10000, '(')};
  for (const std::string& a : hostile) {
    r = accuracy_reward(p, wrap("", a));
    EXPECT_EQ(r.value, 0.0) << a;
    EXPECT_FALSE(r.reason.empty()) << a;
  }
}

TEST(Rewards, AccuracyRewardWithoutAnswer) {
  const Problem p = countdown({25, 3, 4}, 79);
  EXPECT_EQ(accuracy_reward(p, "").reason, "no <answer>");
  EXPECT_EQ(accuracy_reward(p, "<think>25*3+4</think>").reason, "no <answer>");
  EXPECT_EQ(accuracy_reward(p, "<think>25*3+4</think><answer>25*3+4").value, 0.0);
  auto r = accuracy_reward(p, wrap("x", "   "));
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "empty <answer>");
  r = accuracy_reward(p, wrap("x", std::string(5000, '1')));
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "answer too long: 5000 bytes (at most 4096)");
}

TEST(Rewards, AccuracyRewardUnknownTaskDoesNotThrow) {
  Problem p = countdown({1}, 1);
  p.task = "no-such-task";
  RewardResult r;
  EXPECT_NO_THROW(r = accuracy_reward(p, wrap("", "1")));
  EXPECT_EQ(r.value, 0.0);
  EXPECT_HAS(r.reason, "answer check failed");
}

TEST(Rewards, LanguageReward) {
  auto r = language_reward(wrap("first multiply 25 by 3", "x"), "en");
  EXPECT_EQ(r.value, 1.0);
  EXPECT_EQ(r.reason, "15 of 15 letters in Latin script (15 Latin, 0 CJK): 1");
  r = language_reward(wrap("先算二十五乘三", "x"), "zh");
  EXPECT_EQ(r.value, 1.0);
  r = language_reward(wrap("先算二十五乘三", "x"), "en");
  EXPECT_EQ(r.value, 0.0);
  // "verify" is 6 Latin letters, "等等" 2 CJK letters.
  r = language_reward(wrap("verify 等等", "x"), "en");
  EXPECT_DOUBLE_EQ(r.value, 6.0 / 8.0);
  EXPECT_EQ(r.reason, "6 of 8 letters in Latin script (6 Latin, 2 CJK): 0.75");
  r = language_reward(wrap("verify 等等", "x"), "zh");
  EXPECT_DOUBLE_EQ(r.value, 2.0 / 8.0);
  // Only the reasoning counts, not the answer or text outside.
  r = language_reward("<think>abc</think><answer>中文中文</answer>", "en");
  EXPECT_EQ(r.value, 1.0);
  // Rule: no letters in the reasoning (pure arithmetic) -> 1.0; no <think> block -> 0.
  r = language_reward(wrap(" 25 * 3 = 75, 75 + 4 = 79。", "x"), "zh");
  EXPECT_EQ(r.value, 1.0);
  EXPECT_EQ(r.reason, "no letters in the reasoning: nothing to be inconsistent");
  EXPECT_EQ(language_reward(wrap("", "x"), "en").value, 1.0);
  r = language_reward("<answer>x</answer>", "en");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "no <think> block");
  r = language_reward(wrap("abc", "x"), "fr");
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.reason, "unknown target language 'fr' (en, zh)");
  // Invalid UTF-8 inside the reasoning is skipped.
  r = language_reward(wrap("ab\xff\xe4\xb8", "x"), "en");
  EXPECT_EQ(r.value, 1.0);
}

TEST(Rewards, CombinedWeights) {
  const Problem p = countdown({25, 3, 4}, 79);
  const std::string good = wrap(" 25 * 3 = 75, plus 4 ", "25 * 3 + 4");
  RewardWeights w;  // accuracy 1, format 0.1, language 0
  auto b = combined_reward(p, good, w);
  EXPECT_DOUBLE_EQ(b.total, 1.1);
  ASSERT_EQ(b.parts.size(), 3u);
  EXPECT_EQ(b.parts.at("accuracy").value, 1.0);
  EXPECT_EQ(b.parts.at("format").value, 1.0);
  EXPECT_EQ(b.parts.at("language").value, 1.0);
  // Not well formed, correct.
  b = combined_reward(p, good + " extra", w);
  EXPECT_DOUBLE_EQ(b.total, 1.0);
  EXPECT_EQ(b.parts.at("format").reason, "not well formed: text after </answer>");
  // Well formed, wrong.
  b = combined_reward(p, wrap("hmm", "25 + 3 + 4"), w);
  EXPECT_DOUBLE_EQ(b.total, 0.1);
  // Custom weights, language included: reasoning 4 Latin + 2 CJK letters, target zh.
  RewardWeights w2;
  w2.accuracy = 2.0;
  w2.format = 0.5;
  w2.language = 0.3;
  w2.target_language = "zh";
  b = combined_reward(p, wrap("plus 等等", "25 * 3 + 4"), w2);
  EXPECT_DOUBLE_EQ(b.parts.at("language").value, 2.0 / 6.0);
  EXPECT_DOUBLE_EQ(b.total, 2.0 * 1.0 + 0.5 * 1.0 + 0.3 * (2.0 / 6.0));
  // Nothing at all.
  b = combined_reward(p, "", w2);
  EXPECT_DOUBLE_EQ(b.total, 0.0);
  EXPECT_EQ(b.parts.at("accuracy").reason, "no <answer>");
  EXPECT_EQ(b.parts.at("language").reason, "no <think> block");
}

TEST(Rewards, TinyZeroPreset) {
  const Problem p = countdown({25, 3, 4}, 79);
  RewardWeights w;
  w.tinyzero_countdown = true;
  w.accuracy = 5.0;  // ignored by the preset
  auto b = combined_reward(p, wrap("25*3=75", "25 * 3 + 4"), w);
  EXPECT_DOUBLE_EQ(b.total, 1.0);
  ASSERT_EQ(b.parts.size(), 1u);
  EXPECT_EQ(b.parts.at("tinyzero").value, 1.0);
  b = combined_reward(p, wrap("25*3=75", "25 * 3 - 4"), w);
  EXPECT_DOUBLE_EQ(b.total, 0.1);
  EXPECT_HAS(b.parts.at("tinyzero").reason, "well formed but wrong");
  b = combined_reward(p, wrap("25*3=75", "3 * 25 + 4 = 79"), w);  // an equation found, invalid
  EXPECT_DOUBLE_EQ(b.total, 0.1);
  b = combined_reward(p, "<think>25*3+4=79</think>", w);
  EXPECT_DOUBLE_EQ(b.total, 0.0);
  EXPECT_EQ(b.parts.at("tinyzero").reason, "no <answer>");
  b = combined_reward(p, "", w);
  EXPECT_DOUBLE_EQ(b.total, 0.0);
  // Correct but not well formed: TinyZero scores the extracted answer -> 1.0.
  b = combined_reward(p, "<answer>25 * 3 + 4</answer>", w);
  EXPECT_DOUBLE_EQ(b.total, 1.0);
  // Wrong and not well formed -> 0.
  b = combined_reward(p, "<answer>25 * 3 - 4</answer>", w);
  EXPECT_DOUBLE_EQ(b.total, 0.0);
  EXPECT_HAS(b.parts.at("tinyzero").reason, "not well formed");
}

TEST(Rewards, HostileInputsNeverThrow) {
  const Problem p = countdown({25, 3, 4}, 79);
  Problem unknown = p;
  unknown.task = "";
  std::vector<std::string> hostile = {
      "",
      "<think>",
      "</answer>",
      "<answer>",
      "<answer></answer>",
      "</answer><answer>",
      "<think><answer></think></answer>",
      std::string("\0\0\0", 3),
      "\xff\xfe\xfd",
      "<answer>\xc3</answer>",
      "<answer>" + std::string(300, '9') + "</answer>",
      "<answer>" + std::string(10000, '(') + "</answer>",
      "<answer>1/0</answer>",
      "<answer>-3+25*4</answer>",
      "<answer>3 * 25 + 7 = 82</answer>",
      "=====",
      std::string(1000, '=') + "1",
  };
  for (const std::string& s : hostile) {
    EXPECT_NO_THROW({
      (void)parse_completion(s);
      (void)format_reward(s);
      (void)accuracy_reward(p, s);
      (void)accuracy_reward(unknown, s);
      (void)language_reward(s, "en");
      (void)language_reward(s, "zh");
      (void)combined_reward(p, s, RewardWeights{});
      RewardWeights tz;
      tz.tinyzero_countdown = true;
      (void)combined_reward(p, s, tz);
      (void)countdown_check({}, 0, s);
      (void)language_mix(s);
      (void)aha_spans(s);
    }) << s.substr(0, 40);
  }
}

}  // namespace
}  // namespace aha
