// The verifiable tasks (engine/task.h): generators, answer checks, splits and the
// Problem JSON form (the worked solutions' text: test_task_traces.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/task.h"
#include "task_test_util.h"

namespace aha {
namespace {

using namespace test;

// An independent evaluator for the reference Countdown expressions (+ - * / ( ), exact
// integer steps as the generator makes them): value and the numbers used.
struct MiniEval {
  const std::string& s;
  size_t i = 0;
  std::vector<int> used;
  bool ok = true;
  void sp() { while (i < s.size() && s[i] == ' ') i++; }
  double expr() {
    double v = term();
    for (sp(); i < s.size() && (s[i] == '+' || s[i] == '-'); sp()) {
      const char op = s[i++];
      const double r = term();
      v = op == '+' ? v + r : v - r;
    }
    return v;
  }
  double term() {
    double v = factor();
    for (sp(); i < s.size() && (s[i] == '*' || s[i] == '/'); sp()) {
      const char op = s[i++];
      const double r = factor();
      v = op == '*' ? v * r : v / r;
    }
    return v;
  }
  double factor() {
    sp();
    if (i < s.size() && s[i] == '(') {
      i++;
      const double v = expr();
      sp();
      if (i >= s.size() || s[i] != ')') ok = false;
      i++;
      return v;
    }
    int n = 0, digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') n = n * 10 + (s[i++] - '0'), digits++;
    if (!digits) ok = false;
    used.push_back(n);
    return n;
  }
};

TEST(Tasks, NamesAndLookup) {
  EXPECT_EQ(task_names(), (std::vector<std::string>{"arithmetic", "countdown", "linear"}));
  for (const std::string& n : task_names()) EXPECT_EQ(task_by_name(n).name(), n);
  try {
    task_by_name("sudoku");
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("sudoku"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("arithmetic, countdown, linear"), std::string::npos);
  }
}

TEST(Tasks, R1PromptExactText) {
  const std::string head =
      "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
      "assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
      "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
      "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: ";
  EXPECT_EQ(r1_prompt("What is 2 + 2"), head + "What is 2 + 2. Assistant:");
  // A question that already ends its sentence does not get a second period.
  EXPECT_EQ(r1_prompt("Compute 47 + 38."), head + "Compute 47 + 38. Assistant:");
  EXPECT_EQ(r1_prompt("Why?"), head + "Why? Assistant:");
}

TEST(Tasks, CanonicalIdsAndQuestions) {
  const Task& ar = task_by_name("arithmetic");
  const Task& cd = task_by_name("countdown");
  const Task& li = task_by_name("linear");
  for (uint64_t seed = 0; seed < 300; seed++) {
    Rng rng(seed);
    for (int d = 1; d <= 9; d++) {
      const Problem p = ar.generate(rng, d);
      EXPECT_EQ(p.task, "arithmetic");
      EXPECT_EQ(p.difficulty, d);
      const long long a = p.data["a"], b = p.data["b"];
      const std::string op = p.data["op"];
      EXPECT_EQ(p.id, std::to_string(a) + op + std::to_string(b));
      EXPECT_EQ(p.question, "Compute " + std::to_string(a) + " " + op + " " + std::to_string(b) + ".");
      EXPECT_EQ(std::to_string(a).size(), (size_t)d) << p.id;
      if (op != "*") {
        EXPECT_EQ(std::to_string(b).size(), (size_t)d) << p.id;
      } else {
        EXPECT_LE(std::to_string(b).size(), (size_t)d) << p.id;
        EXPECT_GE(b, 2) << p.id;
        if (d <= 2) {
          EXPECT_LE(b, 9) << p.id;  // one-digit second operand
        }
      }
      if (op == "-") {
        EXPECT_GE(a, b);
      }
    }
    for (int d = 1; d <= 3; d++) {
      const Problem p = cd.generate(rng, d);
      const std::vector<int> nums = p.data["numbers"];
      const int target = p.data["target"];
      EXPECT_EQ(nums.size(), d == 3 ? 4u : 3u);
      EXPECT_TRUE(std::is_sorted(nums.begin(), nums.end()));
      for (int v : nums) EXPECT_TRUE(v >= 1 && v <= (d == 1 ? 20 : 50)) << p.id;
      EXPECT_TRUE(target >= 1 && target <= 200) << p.id;
      std::string list;
      for (size_t k = 0; k < nums.size(); k++) {
        if (k) list += ",";
        list += std::to_string(nums[k]);
      }
      EXPECT_EQ(p.id, "countdown:" + list + "->" + std::to_string(target));
      EXPECT_NE(p.question.find("create an equation that equals " + std::to_string(target) + "."), std::string::npos);
      // The reference answer is a valid expression over exactly these numbers.
      MiniEval ev{p.answer, 0, {}, true};
      const double v = ev.expr();
      EXPECT_TRUE(ev.ok && ev.i >= p.answer.size()) << p.answer;
      EXPECT_NEAR(v, target, 1e-9) << p.answer;
      std::sort(ev.used.begin(), ev.used.end());
      EXPECT_EQ(ev.used, nums) << p.answer;
    }
    for (int d = 1; d <= 5; d++) {
      const Problem p = li.generate(rng, d);
      const long long a = p.data["a"], b = p.data["b"], c = p.data["c"], x = p.data["x"];
      EXPECT_EQ(a * x + b, c);
      EXPECT_TRUE(std::llabs(a) >= 2 && b != 0) << p.id;
      if (d == 1) {
        EXPECT_TRUE(a >= 2 && a <= 9 && x >= 0 && x <= 20 && b >= 1 && b <= 50) << p.id;
      }
      EXPECT_EQ(p.answer, std::to_string(x));
      const std::string sign = b > 0 ? "+" : "-", mag = std::to_string(std::llabs(b));
      EXPECT_EQ(p.id, "linear:" + std::to_string(a) + "x" + sign + mag + "=" + std::to_string(c));
      EXPECT_EQ(p.question, "Solve for x: " + std::to_string(a) + "x " + sign + " " + mag + " = " + std::to_string(c) + ".");
    }
  }
}

TEST(Tasks, DeterministicForSeed) {
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    for (const TraceStyle& st : all_styles()) {
      Rng r1(42), r2(42);
      for (int i = 0; i < 50; i++) {
        const int d = 1 + i % max_difficulty(n);
        const Problem a = t.generate(r1, d), b = t.generate(r2, d);
        EXPECT_EQ(a.to_json(), b.to_json());
        EXPECT_EQ(t.solution(a, st, r1), t.solution(b, st, r2));
      }
    }
    const std::vector<Problem> x = draw_problems(t, 9, 100, 2, false, 0.1), y = draw_problems(t, 9, 100, 2, false, 0.1);
    ASSERT_EQ(x.size(), 100u);
    for (size_t i = 0; i < x.size(); i++) EXPECT_EQ(x[i].to_json(), y[i].to_json());
    const std::vector<Problem> z = draw_problems(t, 10, 100, 2, false, 0.1);
    int same = 0;
    for (size_t i = 0; i < x.size(); i++) same += x[i].id == z[i].id;
    EXPECT_LT(same, 20) << "another seed gives other problems";
  }
}

TEST(Tasks, SplitsAreDisjoint) {
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    const std::vector<Problem> train = draw_problems(t, 1, 2000, 2, false, 0.1);
    const std::vector<Problem> eval = draw_problems(t, 1, 500, 2, true, 0.1);
    ASSERT_EQ(train.size(), 2000u);
    ASSERT_EQ(eval.size(), 500u);
    std::set<std::string> ids;
    for (const Problem& p : train) {
      EXPECT_FALSE(in_eval_split(p, 0.1)) << p.id;
      EXPECT_TRUE(ids.insert(p.id).second) << "duplicate " << p.id;
    }
    for (const Problem& p : eval) {
      EXPECT_TRUE(in_eval_split(p, 0.1)) << p.id;
      EXPECT_TRUE(ids.insert(p.id).second) << "shared or duplicate " << p.id;
    }
  }
  // The hash is of task + "|" + id: stable, and the fraction is respected.
  Problem p;
  p.task = "arithmetic";
  int in = 0;
  for (int i = 0; i < 20000; i++) {
    p.id = std::to_string(i) + "+1";
    in += in_eval_split(p, 0.25);
  }
  EXPECT_NEAR(in / 20000.0, 0.25, 0.02);
  // ... per problem, not per prefix: every first operand of 2-digit addition has problems
  // on both sides (the plain FNV-1a hash put each first operand wholly on one side)
  int both = 0, all_in = 0;
  for (int a = 10; a < 100; a++) {
    int e = 0;
    for (int b = 10; b < 100; b++) {
      p.id = std::to_string(a) + "+" + std::to_string(b);
      e += in_eval_split(p, 0.1);
    }
    both += e > 0 && e < 90;
    all_in += e;
  }
  EXPECT_GE(both, 85) << "first operands with problems in both splits, of 90";
  EXPECT_NEAR(all_in / 8100.0, 0.1, 0.02);
  EXPECT_FALSE(in_eval_split(p, 0.0));
  EXPECT_TRUE(in_eval_split(p, 1.0));
}

TEST(Tasks, DrawProblemsRefusesWhatItCannotSupply) {
  const Task& ar = task_by_name("arithmetic");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(draw_problems(ar, 1, 2000, 1, true, 0.1), InvalidArgument);  // ~250 one-digit problems
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  EXPECT_THROW(draw_problems(ar, 1, 10, 2, true, 0.0), InvalidArgument);
  EXPECT_THROW(draw_problems(ar, 1, 10, 2, false, 1.0), InvalidArgument);
  EXPECT_THROW(draw_problems(ar, 1, -1, 2, false, 0.1), InvalidArgument);
  EXPECT_THROW(draw_problems(ar, 1, 10, 2, false, 1.5), InvalidArgument);
  EXPECT_THROW(draw_problems(ar, 1, 10, 0, false, 0.1), InvalidArgument);
  EXPECT_TRUE(draw_problems(ar, 1, 0, 2, false, 0.1).empty());
}

TEST(Tasks, DifficultyOutOfRangeThrows) {
  Rng rng(1);
  for (const std::string& n : task_names()) {
    EXPECT_THROW(task_by_name(n).generate(rng, 0), InvalidArgument) << n;
    EXPECT_THROW(task_by_name(n).generate(rng, max_difficulty(n) + 1), InvalidArgument) << n;
    EXPECT_NO_THROW(task_by_name(n).generate(rng, max_difficulty(n))) << n;
  }
}

// Every solution has the exact R1 form and its answer passes the task's own check, for
// every task × difficulty × style over many seeds.
TEST(Tasks, EverySolutionPassesCheckAnswer) {
  int checked = 0;
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    for (const TraceStyle& st : all_styles()) {
      for (uint64_t seed = 0; seed < 150; seed++) {
        Rng rng(seed * 7919 + 13);
        const int d = 1 + (int)(seed % max_difficulty(n));
        const Problem p = t.generate(rng, d);
        const std::string sol = t.solution(p, st, rng);
        ASSERT_EQ(sol.rfind("<think> ", 0), 0u) << sol;
        ASSERT_TRUE(sol.size() > 10 && sol.substr(sol.size() - 10) == " </answer>") << sol;
        EXPECT_EQ(sol.find("<think>", 1), std::string::npos) << sol;
        EXPECT_EQ(sol.find("</think>"), sol.find(" </think> <answer> ") + 1) << sol;
        EXPECT_EQ(sol.find("<answer>"), sol.rfind("<answer>")) << sol;
        const std::string ans = answer_of(sol);
        const RewardResult r = t.check_answer(p, ans);
        EXPECT_EQ(r.value, 1.0) << n << " " << p.id << " answer '" << ans << "': " << r.reason << "\n" << sol;
        EXPECT_FALSE(r.reason.empty());
        if (n != "countdown") {
          EXPECT_EQ(ans, p.answer);
        }
        checked++;
      }
    }
  }
  EXPECT_EQ(checked, 3 * 20 * 150);
}

TEST(Tasks, ProblemJsonRoundTrip) {
  for (const std::string& n : task_names()) {
    Rng rng(5);
    for (int i = 0; i < 20; i++) {
      const Problem p = task_by_name(n).generate(rng, 1 + i % max_difficulty(n));
      const nlohmann::json j = p.to_json();
      const Problem q = Problem::from_json(nlohmann::json::parse(j.dump()), "mem");
      EXPECT_EQ(q.task, p.task);
      EXPECT_EQ(q.id, p.id);
      EXPECT_EQ(q.question, p.question);
      EXPECT_EQ(q.answer, p.answer);
      EXPECT_EQ(q.data, p.data);
      EXPECT_EQ(q.difficulty, p.difficulty);
      EXPECT_EQ(q.to_json(), j);
    }
  }
  // Extra keys (the dataset files add prompt/completion) are ignored.
  Rng rng(1);
  nlohmann::json j = task_by_name("linear").generate(rng, 1).to_json();
  j["prompt"] = "...";
  EXPECT_NO_THROW(Problem::from_json(j, "mem"));
}

TEST(Tasks, ProblemFromJsonErrorsNameFieldAndOrigin) {
  Rng rng(1);
  const nlohmann::json good = task_by_name("countdown").generate(rng, 1).to_json();
  const auto expect_error = [](const nlohmann::json& j, const std::string& needle) {
    try {
      Problem::from_json(j, "eval_countdown.jsonl:7");
      ADD_FAILURE() << "no throw for " << j.dump();
    } catch (const FormatError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("eval_countdown.jsonl:7"), std::string::npos) << m;
      EXPECT_NE(m.find(needle), std::string::npos) << m;
    }
  };
  expect_error(nlohmann::json::array(), "object");
  for (const char* key : {"task", "id", "question", "answer", "data", "difficulty"}) {
    nlohmann::json j = good;
    j.erase(key);
    expect_error(j, std::string("'") + key + "'");
    j = good;
    j[key] = key == std::string("data") ? nlohmann::json(3) : nlohmann::json::array();
    expect_error(j, std::string("'") + key + "'");
  }
  nlohmann::json j = good;
  j["task"] = "sudoku";
  expect_error(j, "sudoku");
  j = good;
  j["difficulty"] = 0;
  expect_error(j, "'difficulty'");
  j = good;
  j["difficulty"] = 1.5;
  expect_error(j, "'difficulty'");
  j = good;
  j["data"].erase("target");
  expect_error(j, "data.target");
  j = good;
  j["data"]["numbers"] = {1, "x", 3};
  expect_error(j, "data.numbers");
  j = good;
  j["task"] = "linear";
  j["data"] = {{"a", 3}, {"b", 5}, {"c", 21}, {"x", 5}};
  expect_error(j, "a*x + b = c");
  j["task"] = "arithmetic";
  j["data"] = {{"a", 3}, {"b", 5}, {"op", "/"}};
  expect_error(j, "data.op");
}

TEST(Tasks, CheckAnswerSurvivesHostileInput) {
  const std::string big(500, '9');
  std::string huge(100000, '7');
  std::string junk = "\xff\xfe\xc3\x28\xed\xa0\x80 12";
  std::vector<std::string> inputs{"", "   ", big, "-" + big, "1/0", junk, huge, std::string(100000, '('),
                                  "x =", "x = ", "= 5", "5 5", "5.0", "1e3", "0x10", "--5", std::string("5\0", 2),
                                  "<answer>5</answer>", "x = x = 5", std::string(100000, ' ') + "1/0"};
  for (const std::string& n : task_names()) {
    const Task& t = task_by_name(n);
    Rng rng(3);
    const Problem p = t.generate(rng, 2);
    for (const std::string& in : inputs) {
      const auto t0 = std::chrono::steady_clock::now();
      RewardResult r;
      ASSERT_NO_THROW(r = t.check_answer(p, in)) << n;
      EXPECT_EQ(r.value, 0.0) << n << " " << in.substr(0, 40);
      EXPECT_FALSE(r.reason.empty()) << n;
      EXPECT_NO_THROW((void)nlohmann::json(r.reason).dump()) << "reason is valid UTF-8: " << r.reason;
      EXPECT_LT(r.reason.size(), 400u);
      EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5) << n;
    }
  }
  // A problem with broken data scores 0 instead of throwing.
  Problem broken;
  broken.task = "countdown";
  broken.answer = "1 + 2";
  for (const std::string& n : task_names()) {
    broken.task = n;
    RewardResult r;
    ASSERT_NO_THROW(r = task_by_name(n).check_answer(broken, "1 + 2"));
    EXPECT_EQ(r.value, 0.0);
    EXPECT_FALSE(r.reason.empty());
  }
}

TEST(Tasks, IntegerAnswerForms) {
  const Task& li = task_by_name("linear");
  Problem p;
  p.task = "linear";
  p.answer = "5";
  p.data = {{"a", 3}, {"b", 5}, {"c", 20}, {"x", 5}};
  for (const char* ok : {"5", "x = 5", "x=5", " x =5 ", "X = 5", "+5", "005"})
    EXPECT_EQ(li.check_answer(p, ok).value, 1.0) << ok;
  for (const char* bad : {"6", "x = 6", "5.0", "y = 5", "x == 5", "x = 5 = 5", "five", "10/2", "x5"})
    EXPECT_EQ(li.check_answer(p, bad).value, 0.0) << bad;
  p.answer = "-7";
  EXPECT_EQ(li.check_answer(p, "x = -7").value, 1.0);
  EXPECT_EQ(li.check_answer(p, "7").value, 0.0);
  const RewardResult r = li.check_answer(p, "8");
  EXPECT_NE(r.reason.find("-7"), std::string::npos) << r.reason;

  const Task& ar = task_by_name("arithmetic");
  Problem q;
  q.task = "arithmetic";
  q.answer = "85";
  EXPECT_EQ(ar.check_answer(q, "85").value, 1.0);
  EXPECT_EQ(ar.check_answer(q, " 85\n").value, 1.0);
  EXPECT_EQ(ar.check_answer(q, "x = 85").value, 0.0);
  EXPECT_EQ(ar.check_answer(q, "84").value, 0.0);
  EXPECT_EQ(ar.check_answer(q, "85" + std::string(30, '0')).value, 0.0);
}

TEST(Tasks, CountdownCheckUsesTheRules) {
  const Task& cd = task_by_name("countdown");
  Problem p;
  p.task = "countdown";
  p.id = "countdown:3,4,25->79";
  p.answer = "3 * 25 + 4";
  p.data = {{"numbers", {3, 4, 25}}, {"target", 79}};
  EXPECT_EQ(cd.check_answer(p, "3 * 25 + 4").value, 1.0);
  EXPECT_EQ(cd.check_answer(p, "(25 * 3) + 4").value, 1.0);
  EXPECT_EQ(cd.check_answer(p, "3 * 25 + 4 = 79").value, 0.0);
  EXPECT_EQ(cd.check_answer(p, "3 * 25").value, 0.0);
  EXPECT_EQ(cd.check_answer(p, "3 * 25 + 5").value, 0.0);
  // The trace's search shows a miss, then the working combination.
  Rng rng(2);
  const std::string sol = cd.solution(p, TraceStyle{}, rng);
  EXPECT_NE(sol.find("Try "), std::string::npos) << sol;
  EXPECT_TRUE(sol.find("too big") != std::string::npos || sol.find("too small") != std::string::npos) << sol;
  EXPECT_NE(sol.find("that works"), std::string::npos) << sol;
  // A problem with no whole-number solution is refused by solution(), not mis-solved.
  p.data = {{"numbers", {2, 2, 2}}, {"target", 199}};
  EXPECT_THROW(cd.solution(p, TraceStyle{}, rng), InvalidArgument);
}

TEST(Tasks, StyleAndProblemMismatchAreRefused) {
  Rng rng(1);
  const Problem p = task_by_name("arithmetic").generate(rng, 2);
  TraceStyle bad;
  bad.language = "fr";
  EXPECT_THROW(task_by_name("arithmetic").solution(p, bad, rng), InvalidArgument);
  bad.language = "en";
  bad.code_switch = 1.5;
  EXPECT_THROW(task_by_name("arithmetic").solution(p, bad, rng), InvalidArgument);
  EXPECT_THROW(task_by_name("linear").solution(p, TraceStyle{}, rng), InvalidArgument);
}

}  // namespace
}  // namespace aha
