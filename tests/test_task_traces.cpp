// The verifiable tasks' worked solutions (engine/task.h): exact trace text, the carry
// styles, self-correction, language and code switching, the cold-start format, lengths.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "engine/task.h"
#include "task_test_util.h"

namespace aha {
namespace {

using namespace test;

// 47 + 38, the hand-checked problem of the trace-text tests
Problem addition_47_38() {
  Problem p;
  p.task = "arithmetic";
  p.id = "47+38";
  p.question = "Compute 47 + 38.";
  p.answer = "85";
  p.data = {{"a", 47}, {"b", 38}, {"op", "+"}};
  p.difficulty = 2;
  return p;
}

TEST(Tasks, ArithmeticTraceText) {
  const Task& t = task_by_name("arithmetic");
  Problem p = addition_47_38();
  Rng rng(1);
  EXPECT_EQ(t.solution(p, TraceStyle{}, rng),
            "<think> Ones: 7 + 8 = 15, write 5 carry 1. Tens: 4 + 3 + 1 = 8. So 47 + 38 = 85. </think> "
            "<answer> 85 </answer>");
  TraceStyle zh;
  zh.language = "zh";
  EXPECT_EQ(t.solution(p, zh, rng),
            "<think> 个位：7 + 8 = 15，写 5 进 1。十位：4 + 3 + 1 = 8。所以 47 + 38 = 85。 </think> <answer> 85 </answer>");
  TraceStyle cold;
  cold.cold_start = true;
  EXPECT_EQ(t.solution(p, cold, rng),
            "<think> 1. Ones: 7 + 8 = 15, write 5 carry 1.\n2. Tens: 4 + 3 + 1 = 8.\nSummary: 47 + 38 = 85. "
            "</think> <answer> 85 </answer>");
  p.data = {{"a", 74}, {"b", 38}, {"op", "-"}};
  p.answer = "36";
  EXPECT_EQ(t.solution(p, TraceStyle{}, rng),
            "<think> Ones: 14 - 8 = 6, borrow 1. Tens: 7 - 1 - 3 = 3. So 74 - 38 = 36. </think> <answer> 36 </answer>");
  p.data = {{"a", 38}, {"b", 74}, {"op", "-"}};  // hand-made: a negative result
  p.answer = "-36";
  EXPECT_EQ(t.solution(p, TraceStyle{}, rng),
            "<think> 38 < 74, so compute 74 - 38 and negate. Ones: 14 - 8 = 6, borrow 1. Tens: 7 - 1 - 3 = 3. "
            "So 38 - 74 = -36. </think> <answer> -36 </answer>");
  p.data = {{"a", 47}, {"b", 8}, {"op", "*"}};
  p.answer = "376";
  EXPECT_EQ(t.solution(p, TraceStyle{}, rng),
            "<think> Ones: 7 * 8 = 56, write 6 carry 5. Tens: 4 * 8 + 5 = 37. So 47 * 8 = 376. </think> "
            "<answer> 376 </answer>");
  p.data = {{"a", 347}, {"b", 26}, {"op", "*"}};
  p.answer = "9022";
  EXPECT_EQ(t.solution(p, TraceStyle{}, rng),
            "<think> 347 * 6 = 2082. 347 * 20 = 6940. Add: 2082 + 6940 = 9022. So 347 * 26 = 9022. </think> "
            "<answer> 9022 </answer>");
}

// curriculum.carry_style = "two_facts": a carried or borrowed column as one two-operand
// fact per clause, in both languages and in the cold-start format; the columns without
// an incoming carry read as in the default style.
TEST(Tasks, ArithmeticTwoFactsStyle) {
  const Task& t = task_by_name("arithmetic");
  Problem p = addition_47_38();
  Rng rng(1);
  TraceStyle two;
  two.two_facts = true;
  EXPECT_EQ(t.solution(p, two, rng),
            "<think> Ones: 7 + 8 = 15, write 5 carry 1. Tens: 4 + 3 = 7, 7 + 1 = 8. So 47 + 38 = 85. </think> "
            "<answer> 85 </answer>");
  TraceStyle zh = two;
  zh.language = "zh";
  EXPECT_EQ(t.solution(p, zh, rng),
            "<think> 个位：7 + 8 = 15，写 5 进 1。十位：4 + 3 = 7，7 + 1 = 8。所以 47 + 38 = 85。 </think> <answer> 85 </answer>");
  TraceStyle cold = two;
  cold.cold_start = true;
  EXPECT_EQ(t.solution(p, cold, rng),
            "<think> 1. Ones: 7 + 8 = 15, write 5 carry 1.\n2. Tens: 4 + 3 = 7, 7 + 1 = 8.\nSummary: 47 + 38 = 85. "
            "</think> <answer> 85 </answer>");
  p.data = {{"a", 74}, {"b", 38}, {"op", "-"}};
  p.answer = "36";
  EXPECT_EQ(t.solution(p, two, rng),
            "<think> Ones: 14 - 8 = 6, borrow 1. Tens: 7 - 1 = 6, 6 - 3 = 3. So 74 - 38 = 36. </think> <answer> 36 </answer>");
  p.data = {{"a", 47}, {"b", 8}, {"op", "*"}};
  p.answer = "376";
  EXPECT_EQ(t.solution(p, two, rng),
            "<think> Ones: 7 * 8 = 56, write 6 carry 5. Tens: 4 * 8 = 32, 32 + 5 = 37. So 47 * 8 = 376. </think> "
            "<answer> 376 </answer>");
  p.data = {{"a", 41}, {"b", 38}, {"op", "+"}};  // no carry: the same as the default style
  p.answer = "79";
  EXPECT_EQ(t.solution(p, two, rng), t.solution(p, TraceStyle{}, rng));
  // a caught mistake states the digits' fact right and errs only in the carried clause
  p.data = {{"a", 47}, {"b", 38}, {"op", "+"}};
  p.answer = "85";
  two.self_correction = 1.0;
  bool tens_mistake = false;
  for (uint64_t seed = 0; seed < 100 && !tens_mistake; seed++) {
    Rng r(seed);
    const std::string sol = t.solution(p, two, r);
    const size_t k = sol.find("Tens: 4 + 3 = 7, 7 + 1 = ");
    ASSERT_NE(k, std::string::npos) << sol;
    tens_mistake = sol.compare(k, 26, "Tens: 4 + 3 = 7, 7 + 1 = 8") != 0 &&
                   sol.find("Wait, let me recheck: 4 + 3 = 7, 7 + 1 = 8.") != std::string::npos;
  }
  EXPECT_TRUE(tens_mistake);
}

TEST(Tasks, SelfCorrectionRechecksAndKeepsTheRightAnswer) {
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    for (const char* lang : {"en", "zh"}) {
      TraceStyle st;
      st.language = lang;
      st.self_correction = 1.0;
      const std::string phrase = st.language == "en" ? "Wait, let me recheck: " : "等等，再检查一下：";
      for (uint64_t seed = 0; seed < 200; seed++) {
        Rng rng(seed);
        const Problem p = t.generate(rng, 1 + (int)(seed % 2));
        const std::string sol = t.solution(p, st, rng);
        EXPECT_NE(sol.find(phrase), std::string::npos) << sol;
        EXPECT_EQ(t.check_answer(p, answer_of(sol)).value, 1.0) << sol;
        // The wrong statement comes before the recheck and differs from the fix.
        const std::string th = think_of(sol);
        const size_t k = th.find(phrase);
        ASSERT_NE(k, std::string::npos);
        EXPECT_GT(k, 0u);
      }
    }
    // Off: no recheck ever.
    TraceStyle none;
    for (uint64_t seed = 0; seed < 100; seed++) {
      Rng rng(seed);
      const std::string sol = t.solution(t.generate(rng, 1), none, rng);
      EXPECT_EQ(sol.find("recheck"), std::string::npos) << sol;
    }
  }
  // The wrong result is off by a small amount and then restated correctly.
  Problem p;
  p.task = "arithmetic";
  p.id = "47+38";
  p.question = "Compute 47 + 38.";
  p.answer = "85";
  p.data = {{"a", 47}, {"b", 38}, {"op", "+"}};
  TraceStyle st;
  st.self_correction = 1.0;
  std::set<std::string> wrong;
  for (uint64_t seed = 0; seed < 100; seed++) {
    Rng rng(seed);
    const std::string sol = task_by_name("arithmetic").solution(p, st, rng);
    const size_t k = sol.find(" Wait, let me recheck: ");
    ASSERT_NE(k, std::string::npos) << sol;
    const size_t s0 = sol.rfind(": ", k);
    wrong.insert(sol.substr(s0 + 2, k - s0 - 2));
    EXPECT_NE(sol.find("So 47 + 38 = 85."), std::string::npos) << sol;
  }
  for (const std::string& w : wrong)
    EXPECT_TRUE(w == "7 + 8 = 13, write 3 carry 1." || w == "7 + 8 = 14, write 4 carry 1." ||
                w == "7 + 8 = 16, write 6 carry 1." || w == "7 + 8 = 17, write 7 carry 1." ||
                w == "4 + 3 + 1 = 6." || w == "4 + 3 + 1 = 7." || w == "4 + 3 + 1 = 9." || w == "4 + 3 + 1 = 10.")
        << w;
  EXPECT_GE(wrong.size(), 4u);
}

TEST(Tasks, ChineseTracesAreMostlyCjk) {
  TraceStyle zh;
  zh.language = "zh";
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    for (uint64_t seed = 0; seed < 200; seed++) {
      Rng rng(seed);
      const Problem p = t.generate(rng, 1 + (int)(seed % max_difficulty(n)));
      const std::string th = think_of(t.solution(p, zh, rng));
      const Letters c = count_letters(th);
      EXPECT_GE(c.cjk, 2) << th;
      EXPECT_GE(c.cjk, 3 * c.latin) << th;  // linear keeps its "x"
    }
  }
}

TEST(Tasks, CodeSwitchMixesScripts) {
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    for (const char* lang : {"en", "zh"}) {
      TraceStyle st;
      st.language = lang;
      st.code_switch = 1.0;
      for (uint64_t seed = 0; seed < 100; seed++) {
        Rng rng(seed);
        const Problem p = t.generate(rng, 1 + (int)(seed % max_difficulty(n)));
        const std::string th = think_of(t.solution(p, st, rng));
        const Letters c = count_letters(th);
        EXPECT_GE(c.cjk, 2) << th;
        EXPECT_GE(c.latin, 2) << th;
      }
    }
    // Rate 0: one script only (linear's "x" aside).
    TraceStyle en;
    for (uint64_t seed = 0; seed < 50; seed++) {
      Rng rng(seed);
      const std::string th = think_of(t.solution(t.generate(rng, 1), en, rng));
      EXPECT_EQ(count_letters(th).cjk, 0) << th;
    }
  }
  // At a middle rate the two languages alternate within one trace of a long problem.
  TraceStyle half;
  half.code_switch = 0.5;
  int mixed = 0;
  for (uint64_t seed = 0; seed < 100; seed++) {
    Rng rng(seed);
    const Task& t = task_by_name("arithmetic");
    const Letters c = count_letters(think_of(t.solution(t.generate(rng, 6), half, rng)));
    mixed += c.cjk > 0 && c.latin > 2;
  }
  EXPECT_GT(mixed, 70);
}

TEST(Tasks, ColdStartIsEnglishStepsThenSummary) {
  TraceStyle cold;
  cold.cold_start = true;
  cold.language = "zh";  // ignored: cold start is English
  cold.code_switch = 1.0;  // ignored too
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    for (uint64_t seed = 0; seed < 100; seed++) {
      Rng rng(seed);
      const Problem p = t.generate(rng, 1 + (int)(seed % max_difficulty(n)));
      const std::string th = think_of(t.solution(p, cold, rng));
      EXPECT_EQ(count_letters(th).cjk, 0) << th;
      EXPECT_EQ(th.rfind("1. ", 0), 0u) << th;
      const size_t k = th.rfind("\nSummary: ");
      ASSERT_NE(k, std::string::npos) << th;
      EXPECT_EQ(th.find('\n', k + 1), std::string::npos) << "the summary is the last line: " << th;
      EXPECT_EQ(th.back(), '.');
    }
  }
}

TEST(Tasks, ArithmeticD2TracesFitTheContext) {
  const Task& t = task_by_name("arithmetic");
  size_t longest = 0;
  std::string worst;
  for (const TraceStyle& st : all_styles()) {
    for (uint64_t seed = 0; seed < 400; seed++) {
      Rng rng(seed);
      const Problem p = t.generate(rng, 2);
      const std::string sol = t.solution(p, st, rng);
      const size_t len = p.question.size() + 1 + sol.size();
      if (len > longest) longest = len, worst = p.question + " " + sol;
    }
  }
  EXPECT_LE(longest, 256u) << worst;
}

TEST(Tasks, OtherTracesStayShort) {
  // Not a hard limit of the model, but the curriculum is meant for small contexts.
  for (const std::string& n : {std::string("countdown"), std::string("linear")}) {
    const Task& t = task_by_name(n);
    for (const TraceStyle& st : all_styles())
      for (uint64_t seed = 0; seed < 100; seed++) {
        Rng rng(seed);
        const Problem p = t.generate(rng, 1);
        const std::string sol = t.solution(p, st, rng);
        EXPECT_LE(p.question.size() + 1 + sol.size(), 420u) << p.question << " " << sol;
      }
  }
}

}  // namespace
}  // namespace aha
