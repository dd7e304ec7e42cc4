// The verifiable tasks (engine/task.h): arithmetic, Countdown (TinyZero) and linear
// equations — generators, worked solutions in every TraceStyle, and answer checks.
//
// Rules decided here (the tests pin them):
//  * Problem::from_json is strict about the six fields (task, id, question, answer, data,
//    difficulty) and the task-specific fields of `data`; other keys are ignored, because
//    `aha data` stores "prompt"/"completion"/"language" in the same object.
//  * r1_prompt: the R1 Table-1 template; "User: {question}. Assistant:" — the period is not
//    doubled when the question already ends in . ? ! (or 。？！).
//  * in_eval_split: FNV-1a 64 of task + "|" + id, then splitmix64's finaliser; top 53 bits
//    / 2^53 < eval_fraction.
//  * draw_problems: generate() from Rng(seed); the first time an id is seen it is kept when
//    it is in the requested split. InvalidArgument when the problem space runs dry (no new
//    id in max(20000, 20 × ids seen) draws, or the attempt cap).
//  * Traces: a list of steps. Each step is written in the style's language, or, with
//    probability code_switch (drawn independently per step), in the other one; the closing
//    sentence ("So ...") stays in the style's language. With probability self_correction
//    one eligible step first states its result off by 1 or 2, then "Wait, let me recheck: "
//    / "等等，再检查一下：" and the correct computation. cold_start: English, one numbered
//    line per step, then "Summary: ..." before </think>.
//  * check_answer never throws: an integer answer is compared as canonical digit strings
//    (no overflow, any length); Countdown answers go to countdown_check.
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "engine/error.h"
#include "engine/rewards.h"
#include "engine/task.h"
#include "engine/task_internal.h"

namespace aha {

using namespace task_detail;

namespace task_detail {

// ---- text helpers ---------------------------------------------------------------------

std::string S(i64 v) { return std::to_string(v); }

// "a op b" with spaces, as questions and traces write it
std::string arith_text(i64 a, char op, i64 b) { return S(a) + " " + op + " " + S(b); }

std::string_view trim(std::string_view s) {
  const auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && sp(s.front())) s.remove_prefix(1);
  while (!s.empty() && sp(s.back())) s.remove_suffix(1);
  return s;
}

// Length of the valid UTF-8 sequence at s[i] (0 if invalid).
size_t utf8_len(std::string_view s, size_t i) {
  const unsigned char c = (unsigned char)s[i];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size() || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4)) return 0;
  for (size_t k = 1; k < n; k++)
    if (((unsigned char)s[i + k] >> 6) != 2) return 0;
  const unsigned char c1 = (unsigned char)s[i + 1 < s.size() ? i + 1 : i];
  if (n == 3 && ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))) return 0;  // overlong, surrogate
  if (n == 4 && ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))) return 0;
  return n;
}

// A short, printable, valid-UTF-8 quote of user text for a reason string.
std::string quote(std::string_view s) {
  std::string out = "'";
  size_t i = 0, shown = 0;
  while (i < s.size() && shown < 24) {
    const size_t n = utf8_len(s, i);
    if (n == 0 || (n == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7F))) {
      out += '?';
      i++;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
    shown++;
  }
  out += i < s.size() ? "...' (" + S((i64)s.size()) + " bytes)" : "'";
  return out;
}

bool ends_with(std::string_view s, std::string_view t) {
  return s.size() >= t.size() && s.substr(s.size() - t.size()) == t;
}

// "+0012" → "12", "-0" → "0". nullopt with the reason when s is not an integer.
std::optional<std::string> canonical_integer(std::string_view s, std::string& why) {
  s = trim(s);
  if (s.empty()) {
    why = "empty answer";
    return std::nullopt;
  }
  std::string_view d = s;
  bool neg = false;
  if (d.front() == '+' || d.front() == '-') {
    neg = d.front() == '-';
    d.remove_prefix(1);
  }
  if (d.empty() || !std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    why = "not an integer: " + quote(s);
    return std::nullopt;
  }
  while (d.size() > 1 && d.front() == '0') d.remove_prefix(1);
  if (d.size() > 19) {
    why = "integer with " + S((i64)d.size()) + " digits is far too large";
    return std::nullopt;
  }
  return (neg && d != "0" ? "-" : "") + std::string(d);
}

RewardResult compare_integer(const std::string& reference, const std::string& candidate) {
  std::string why;
  const std::optional<std::string> ref = canonical_integer(reference, why);
  if (!ref) return {0.0, "the problem's reference answer is not an integer: " + quote(reference)};
  const std::optional<std::string> got = canonical_integer(candidate, why);
  if (!got) return {0.0, why};
  if (*got == *ref) return {1.0, "correct: " + *got};
  return {0.0, "wrong: " + *got + ", the answer is " + *ref};
}

// ---- problem data ---------------------------------------------------------------------

[[noreturn]] void bad_data(const std::string& task, const std::string& msg) {
  throw InvalidArgument(task + " problem: " + msg);
}

i64 data_int(const json& d, const char* key, const std::string& task, i64 lo, i64 hi) {
  if (!d.is_object() || !d.contains(key)) bad_data(task, std::string("data.") + key + " is missing");
  const json& v = d.at(key);
  if (!v.is_number_integer()) bad_data(task, std::string("data.") + key + " must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > (uint64_t)std::numeric_limits<i64>::max())
    bad_data(task, std::string("data.") + key + " is out of range");
  const i64 x = v.get<i64>();
  if (x < lo || x > hi)
    bad_data(task, std::string("data.") + key + " = " + S(x) + " is not in [" + S(lo) + ", " + S(hi) + "]");
  return x;
}

struct ArithData { i64 a, b; char op; };
ArithData arith_data(const json& d) {
  ArithData r;
  r.a = data_int(d, "a", "arithmetic", 0, 999999999);
  r.b = data_int(d, "b", "arithmetic", 0, 999999999);
  if (!d.contains("op") || !d.at("op").is_string()) bad_data("arithmetic", "data.op must be \"+\", \"-\" or \"*\"");
  const std::string op = d.at("op").get<std::string>();
  if (op != "+" && op != "-" && op != "*") bad_data("arithmetic", "data.op must be \"+\", \"-\" or \"*\", not " + quote(op));
  r.op = op[0];
  return r;
}

CountdownData countdown_data(const json& d) {
  CountdownData r;
  if (!d.is_object() || !d.contains("numbers") || !d.at("numbers").is_array())
    bad_data("countdown", "data.numbers must be an array of integers");
  const json& a = d.at("numbers");
  if (a.size() < 2 || a.size() > 6) bad_data("countdown", "data.numbers must hold 2 to 6 numbers");
  for (const json& v : a) {
    if (!v.is_number_integer() || v.get<i64>() < 1 || v.get<i64>() > 10000 ||
        (v.is_number_unsigned() && v.get<uint64_t>() > 10000))
      bad_data("countdown", "data.numbers must be integers in [1, 10000]");
    r.numbers.push_back((int)v.get<i64>());
  }
  r.target = (int)data_int(d, "target", "countdown", -1000000, 1000000);
  return r;
}

struct LinearData { i64 a, b, c, x; };
LinearData linear_data(const json& d) {
  constexpr i64 M = 1000000000;
  LinearData r{data_int(d, "a", "linear", -M, M), data_int(d, "b", "linear", -M, M),
               data_int(d, "c", "linear", -2 * M * M, 2 * M * M), data_int(d, "x", "linear", -M, M)};
  if (r.a == 0) bad_data("linear", "data.a must not be 0");
  if (r.a * r.x + r.b != r.c) bad_data("linear", "data does not satisfy a*x + b = c");
  return r;
}

void validate_data(const std::string& task, const json& d) {
  if (task == "arithmetic") (void)arith_data(d);
  else if (task == "countdown") (void)countdown_data(d);
  else if (task == "linear") (void)linear_data(d);
}

void check_task(const Problem& p, const std::string& name) {
  if (p.task != name) throw InvalidArgument("the " + name + " task was given a '" + p.task + "' problem");
}

// ---- styled traces --------------------------------------------------------------------





void check_style(const TraceStyle& s) {
  if (s.language != "en" && s.language != "zh")
    throw InvalidArgument("trace language must be \"en\" or \"zh\", not " + quote(s.language));
  if (!(s.code_switch >= 0 && s.code_switch <= 1))
    throw InvalidArgument("code_switch must be a probability in [0, 1], not " + std::to_string(s.code_switch));
  if (!(s.self_correction >= 0 && s.self_correction <= 1))
    throw InvalidArgument("self_correction must be a probability in [0, 1], not " + std::to_string(s.self_correction));
}

std::string render(const Trace& t, const TraceStyle& style, Rng& rng) {
  check_style(style);
  const bool cold = style.cold_start;
  const bool base_zh = !cold && style.language == "zh";
  // Which step (if any) is first stated wrong, and by how much.
  int wrong_step = -1;
  i64 wrong_value = 0;
  std::vector<int> eligible;
  for (int i = 0; i < (int)t.steps.size(); i++)
    if (t.steps[i].can_err) eligible.push_back(i);
  if (!eligible.empty() && style.self_correction > 0 && rng.uniform() < style.self_correction) {
    wrong_step = eligible[rng.below(eligible.size())];
    const Step& s = t.steps[wrong_step];
    static constexpr std::array<i64, 4> kDelta{-2, -1, 1, 2};
    const size_t start = rng.below(kDelta.size());
    for (size_t k = 0; k < kDelta.size(); k++) {
      const i64 w = s.value + kDelta[(start + k) % kDelta.size()];
      if (w >= s.wrong_min && (!s.wrong_avoid || w != *s.wrong_avoid)) {
        wrong_value = w;
        break;
      }
      if (k + 1 == kDelta.size()) wrong_step = -1;  // no plausible wrong value
    }
  }
  // Steps are joined by a space after English text; Chinese punctuation needs none.
  std::string out;
  bool prev_zh = false;
  int line = 0;
  for (int i = 0; i < (int)t.steps.size(); i++) {
    const Step& s = t.steps[i];
    bool zh = base_zh;
    if (!cold && style.code_switch > 0 && rng.uniform() < style.code_switch) zh = !zh;
    const std::string stop = zh ? "。" : ".";
    const std::string end = s.comma ? (zh ? "，" : ",") : stop;
    std::string text = zh ? s.label_zh : s.label_en;
    if (i == wrong_step) {
      text += s.body(wrong_value, zh) + stop + (zh ? "等等，再检查一下：" : " Wait, let me recheck: ");
    }
    text += s.body(s.value, zh) + end;
    if (cold) {
      if (i == 0 || s.new_line) out += (i == 0 ? "" : "\n") + S(++line) + ". ";
      else out += " ";
    } else if (i > 0 && !prev_zh) {
      out += " ";
    }
    out += text;
    prev_zh = zh;
  }
  if (cold) {
    out += (out.empty() ? "" : "\n") + std::string("Summary: ") + t.summary + ".";
  } else {
    if (!out.empty() && !prev_zh) out += " ";
    out += base_zh ? t.conclusion_zh : t.conclusion_en;
  }
  return "<think> " + out + " </think> <answer> " + t.answer + " </answer>";
}

}  // namespace task_detail

namespace {

// ---- arithmetic -------------------------------------------------------------------------

const char* const kColEn[] = {"Ones",        "Tens",         "Hundreds",          "Thousands",
                              "Ten-thousands", "Hundred-thousands", "Millions", "Ten-millions",
                              "Hundred-millions", "Billions"};
const char* const kColZh[] = {"个位", "十位", "百位", "千位", "万位", "十万位", "百万位", "千万位", "亿位", "十亿位"};

std::vector<int> digits_lsb(i64 v) {
  std::vector<int> d;
  do {
    d.push_back(int(v % 10));
    v /= 10;
  } while (v > 0);
  return d;
}

i64 pow10(int k) {
  i64 p = 1;
  while (k-- > 0) p *= 10;
  return p;
}


Step column_step(int col, std::function<std::string(i64, bool)> body, i64 value, i64 wrong_min) {
  Step s;
  s.label_en = std::string(kColEn[col]) + ": ";
  s.label_zh = std::string(kColZh[col]) + "：";
  s.body = std::move(body);
  s.value = value;
  s.can_err = true;
  s.wrong_min = wrong_min;
  return s;
}

// A column's working when a carry or borrow comes in. Style "sum" (two = false): one
// three-operand fact, "4 + 2 + 1". Style "two_facts": one two-operand fact per clause,
// "4 + 2 = 6, 6 + 1" — the three-operand form asks a small model for a second table of
// 200 facts that the ones column never trains; measured on pretrained curriculum models,
// tens sums were right 87% of the time against 97-99% for the ones
// (tools/addition_columns.py), and 91-100% with two facts (README, session 8).
// `first` is the fact on the digits (always stated correctly), then `op` applies the
// incoming carry or borrow; the caller appends " = value".
std::string with_carry(bool two, const std::string& first, i64 first_value, const char* op, int in, bool zh) {
  if (!two) return first + op + S(in);
  return first + " = " + S(first_value) + (zh ? "，" : ", ") + S(first_value) + op + S(in);
}

// Column addition a + b (a, b >= 0).
void add_steps(i64 a, i64 b, bool two, std::vector<Step>& steps) {
  const std::vector<int> da = digits_lsb(a), db = digits_lsb(b);
  const size_t n = std::max(da.size(), db.size());
  int carry = 0;
  for (size_t i = 0; i < n; i++) {
    const int x = i < da.size() ? da[i] : 0, y = i < db.size() ? db[i] : 0;
    const int sum = x + y + carry;
    const bool last = i + 1 == n;
    const std::string pair = S(x) + " + " + S(y);
    steps.push_back(column_step((int)i, [pair, x, y, carry, last, two](i64 v, bool zh) {
      std::string t = (carry ? with_carry(two, pair, x + y, " + ", carry, zh) : pair) + " = " + S(v);
      if (!last && v >= 10) t += zh ? "，写 " + S(v % 10) + " 进 " + S(v / 10) : ", write " + S(v % 10) + " carry " + S(v / 10);
      return t;
    }, sum, 0));
    carry = sum / 10;
  }
}

// Column subtraction a - b with borrows (a >= b >= 0).
void sub_steps(i64 a, i64 b, bool two, std::vector<Step>& steps) {
  const std::vector<int> da = digits_lsb(a), db = digits_lsb(b);
  int borrow = 0;
  for (size_t i = 0; i < da.size(); i++) {
    const int x = da[i], y = i < db.size() ? db[i] : 0;
    const bool take = x - borrow < y;
    const int r = x - borrow + (take ? 10 : 0) - y;
    const int top = x + (take ? 10 : 0);  // the column's digit, with 10 borrowed from the next
    steps.push_back(column_step((int)i, [top, y, borrow, take, two](i64 v, bool zh) {
      // a borrow in: "13 - 1 - 8 = 4" or "13 - 1 = 12, 12 - 8 = 4"; none: "15 - 7 = 8"
      const std::string t = borrow ? with_carry(two, S(top) + " - 1", top - 1, " - ", y, zh) : S(top) + " - " + S(y);
      return t + " = " + S(v) + (take ? (zh ? "，借 1" : ", borrow 1") : "");
    }, r, 0));
    borrow = take ? 1 : 0;
  }
}

// Multiplication: column-style for a one-digit b, partial products otherwise.
void mul_steps(i64 a, i64 b, bool two, std::vector<Step>& steps) {
  if (b < 10) {
    const std::vector<int> da = digits_lsb(a);
    int carry = 0;
    for (size_t i = 0; i < da.size(); i++) {
      const int p = da[i] * (int)b + carry;
      const bool last = i + 1 == da.size();
      const std::string pair = S(da[i]) + " * " + S(b);
      const i64 prod = da[i] * b;
      steps.push_back(column_step((int)i, [pair, prod, carry, last, two](i64 v, bool zh) {
        std::string t = (carry ? with_carry(two, pair, prod, " + ", carry, zh) : pair) + " = " + S(v);
        if (!last && v >= 10) t += zh ? "，写 " + S(v % 10) + " 进 " + S(v / 10) : ", write " + S(v % 10) + " carry " + S(v / 10);
        return t;
      }, p, 0));
      carry = p / 10;
    }
    return;
  }
  const std::vector<int> db = digits_lsb(b);
  std::vector<i64> partials;
  for (size_t j = 0; j < db.size(); j++) {
    if (db[j] == 0) continue;
    const i64 m = db[j] * pow10((int)j), p = a * m;
    Step s;
    s.body = [a, m](i64 v, bool) { return arith_text(a, '*', m) + " = " + S(v); };
    s.value = p;
    s.can_err = true;
    s.wrong_min = 1;
    steps.push_back(std::move(s));
    partials.push_back(p);
  }
  i64 acc = partials[0];
  for (size_t k = 1; k < partials.size(); k++) {
    Step s;
    s.label_en = "Add: ";
    s.label_zh = "相加：";
    s.body = [acc, p = partials[k]](i64 v, bool) { return arith_text(acc, '+', p) + " = " + S(v); };
    s.value = acc + partials[k];
    s.can_err = true;
    s.wrong_min = 1;
    steps.push_back(std::move(s));
    acc += partials[k];
  }
}

class ArithmeticTask final : public Task {
 public:
  std::string name() const override { return "arithmetic"; }

  // Difficulty d (1..9) = digits of each operand. + and - at every d (a >= b for -);
  // * with a one-digit second operand (2..9) for d <= 2, and 1..d digits above.
  Problem generate(Rng& rng, int d) const override {
    if (d < 1 || d > 9) throw InvalidArgument("arithmetic difficulty " + S(d) + " is not in [1, 9] (digits per operand)");
    const auto draw = [&](int digits) {
      const i64 lo = digits == 1 ? 1 : pow10(digits - 1), hi = pow10(digits) - 1;
      return lo + (i64)rng.below(uint64_t(hi - lo + 1));
    };
    const char op = "+-*"[rng.below(3)];
    i64 a = draw(d), b;
    if (op == '*') {
      b = d <= 2 ? 2 + (i64)rng.below(8) : draw(1 + (int)rng.below(d));
      if (b == 1) b = 2 + (i64)rng.below(8);
    } else {
      b = draw(d);
      if (op == '-' && a < b) std::swap(a, b);
    }
    return make(a, op, b, d);
  }

  static Problem make(i64 a, char op, i64 b, int d) {
    Problem p;
    p.task = "arithmetic";
    p.id = S(a) + op + S(b);
    p.question = "Compute " + arith_text(a, op, b) + ".";
    p.answer = S(op == '+' ? a + b : op == '-' ? a - b : a * b);
    p.data = {{"a", a}, {"b", b}, {"op", std::string(1, op)}};
    p.difficulty = d;
    return p;
  }

  std::string solution(const Problem& p, const TraceStyle& style, Rng& rng) const override {
    check_task(p, name());
    const ArithData d = arith_data(p.data);
    const i64 r = d.op == '+' ? d.a + d.b : d.op == '-' ? d.a - d.b : d.a * d.b;
    Trace t;
    const bool two = style.two_facts;
    if (d.op == '+') add_steps(d.a, d.b, two, t.steps);
    else if (d.op == '*') mul_steps(d.a, d.b, two, t.steps);
    else if (d.a >= d.b) sub_steps(d.a, d.b, two, t.steps);
    else {
      Step s;
      s.body = [d](i64, bool zh) {
        return S(d.a) + " < " + S(d.b) + (zh ? "，先算 " : ", so compute ") + arith_text(d.b, '-', d.a) +
               (zh ? " 再取负" : " and negate");
      };
      t.steps.push_back(std::move(s));
      sub_steps(d.b, d.a, two, t.steps);
    }
    const std::string eq = arith_text(d.a, d.op, d.b) + " = " + S(r);
    t.conclusion_en = "So " + eq + ".";
    t.conclusion_zh = "所以 " + eq + "。";
    t.summary = eq;
    t.answer = S(r);
    return render(t, style, rng);
  }

  RewardResult check_answer(const Problem& p, const std::string& answer) const override {
    return compare_integer(p.answer, answer);
  }
};

// ---- linear equations -----------------------------------------------------------------------

std::string lhs_text(i64 a, i64 b, bool spaced) {
  std::string s = a == 1 ? "x" : a == -1 ? "-x" : S(a) + "x";
  if (b != 0) s += (spaced ? (b > 0 ? " + " : " - ") : (b > 0 ? "+" : "-")) + S(std::llabs(b));
  return s;
}

class LinearTask final : public Task {
 public:
  std::string name() const override { return "linear"; }

  // Solve a x + b = c. Difficulty 1: a in 2..9, x in 0..20, b in 1..50 (all positive);
  // 2: |a| in 2..20, x in -20..20, b in ±1..99; 3: 99 / 99 / 999; 4: 999 / 999 / 9999;
  // 5: 9999 / 9999 / 99999 (signs random from 2 on).
  Problem generate(Rng& rng, int d) const override {
    if (d < 1 || d > 5) throw InvalidArgument("linear difficulty " + S(d) + " is not in [1, 5]");
    static constexpr i64 kA[] = {9, 20, 99, 999, 9999}, kX[] = {20, 20, 99, 999, 9999},
                         kB[] = {50, 99, 999, 9999, 99999};
    const auto range = [&](i64 lo, i64 hi) { return lo + (i64)rng.below(uint64_t(hi - lo + 1)); };
    const auto sign = [&] { return d == 1 || rng.below(2) == 0 ? 1 : -1; };
    const i64 a = sign() * range(2, kA[d - 1]);
    const i64 x = d == 1 ? range(0, kX[0]) : range(-kX[d - 1], kX[d - 1]);
    const i64 b = sign() * range(1, kB[d - 1]);
    return make(a, b, x, d);
  }

  static Problem make(i64 a, i64 b, i64 x, int d) {
    const i64 c = a * x + b;
    Problem p;
    p.task = "linear";
    p.id = "linear:" + lhs_text(a, b, false) + "=" + S(c);
    p.question = "Solve for x: " + lhs_text(a, b, true) + " = " + S(c) + ".";
    p.answer = S(x);
    p.data = {{"a", a}, {"b", b}, {"c", c}, {"x", x}};
    p.difficulty = d;
    return p;
  }

  std::string solution(const Problem& p, const TraceStyle& style, Rng& rng) const override {
    check_task(p, name());
    const LinearData d = linear_data(p.data);
    const std::string ax = lhs_text(d.a, 0, true);
    const i64 rhs = d.c - d.b;
    Trace t;
    if (d.b != 0) {
      Step s;
      const bool sub = d.b > 0;
      const i64 m = std::llabs(d.b);
      s.label_en = (sub ? "Subtract " : "Add ") + S(m) + (sub ? " from" : " to") + " both sides: ";
      s.label_zh = (sub ? "两边减去 " : "两边加上 ") + S(m) + "：";
      s.body = [ax, c = d.c, sub, m](i64 v, bool) { return ax + " = " + S(c) + (sub ? " - " : " + ") + S(m) + " = " + S(v); };
      s.value = rhs;
      s.can_err = true;
      s.wrong_min = std::numeric_limits<i64>::min();
      t.steps.push_back(std::move(s));
    }
    if (d.a != 1) {
      Step s;
      s.label_en = "Divide both sides by " + S(d.a) + ": ";
      s.label_zh = "两边除以 " + S(d.a) + "：";
      s.body = [rhs, a = d.a](i64 v, bool) { return "x = " + S(rhs) + " / " + (a < 0 ? "(" + S(a) + ")" : S(a)) + " = " + S(v); };
      s.value = d.x;
      s.can_err = true;
      s.wrong_min = std::numeric_limits<i64>::min();
      t.steps.push_back(std::move(s));
    }
    t.conclusion_en = "So x = " + S(d.x) + ".";
    t.conclusion_zh = "所以 x = " + S(d.x) + "。";
    t.summary = lhs_text(d.a, d.b, true) + " = " + S(d.c) + " gives x = " + S(d.x);
    t.answer = S(d.x);
    return render(t, style, rng);
  }

  // Accepts "5", "x = 5", "x=5" (and "X = 5"); integers only.
  RewardResult check_answer(const Problem& p, const std::string& answer) const override {
    std::string_view s = trim(answer);
    if (!s.empty() && (s.front() == 'x' || s.front() == 'X')) {
      std::string_view rest = trim(s.substr(1));
      if (rest.empty() || rest.front() != '=') return {0.0, "expected \"x = N\" or an integer, got " + quote(s)};
      s = rest.substr(1);
    }
    return compare_integer(p.answer, std::string(s));
  }
};

const ArithmeticTask kArithmetic;
const LinearTask kLinear;

}  // namespace

// ---- Problem, prompt, registry, splits ----------------------------------------------------

json Problem::to_json() const {
  return {{"task", task}, {"id", id}, {"question", question}, {"answer", answer}, {"data", data}, {"difficulty", difficulty}};
}

Problem Problem::from_json(const json& j, const std::string& origin) {
  const auto fail = [&](const std::string& msg) -> FormatError { return FormatError(origin + ": problem " + msg); };
  if (!j.is_object()) throw fail("must be a JSON object, not " + std::string(j.type_name()));
  const auto str = [&](const char* key) {
    if (!j.contains(key)) throw fail(std::string("field '") + key + "' is missing");
    if (!j.at(key).is_string()) throw fail(std::string("field '") + key + "' must be a string, not " + j.at(key).type_name());
    std::string v = j.at(key).get<std::string>();
    if (v.empty()) throw fail(std::string("field '") + key + "' is empty");
    return v;
  };
  Problem p;
  p.task = str("task");
  const std::vector<std::string> names = task_names();
  if (std::find(names.begin(), names.end(), p.task) == names.end())
    throw fail("field 'task': unknown task " + quote(p.task) + " (tasks: arithmetic, countdown, linear)");
  p.id = str("id");
  p.question = str("question");
  p.answer = str("answer");
  if (!j.contains("data")) throw fail("field 'data' is missing");
  if (!j.at("data").is_object()) throw fail(std::string("field 'data' must be an object, not ") + j.at("data").type_name());
  p.data = j.at("data");
  if (!j.contains("difficulty")) throw fail("field 'difficulty' is missing");
  const json& dj = j.at("difficulty");
  if (!dj.is_number_integer()) throw fail(std::string("field 'difficulty' must be an integer, not ") + dj.type_name());
  if ((dj.is_number_unsigned() && dj.get<uint64_t>() > 1000) || dj.get<i64>() < 1 || dj.get<i64>() > 1000)
    throw fail("field 'difficulty' must be in [1, 1000]");
  p.difficulty = (int)dj.get<i64>();
  try {
    validate_data(p.task, p.data);
  } catch (const InvalidArgument& e) {
    throw fail(std::string("field 'data': ") + e.what());
  }
  return p;
}

std::string r1_prompt(const std::string& question) {
  std::string q = question;
  const bool stop = ends_with(q, ".") || ends_with(q, "?") || ends_with(q, "!") || ends_with(q, "。") ||
                    ends_with(q, "？") || ends_with(q, "！");
  return "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
         "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
         "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
         "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: " +
         q + (stop ? "" : ".") + " Assistant:";
}

const Task& task_by_name(const std::string& name) {
  if (name == "arithmetic") return kArithmetic;
  if (name == "countdown") return countdown_task();
  if (name == "linear") return kLinear;
  throw InvalidArgument("unknown task " + quote(name) + " (tasks: arithmetic, countdown, linear)");
}

std::vector<std::string> task_names() { return {"arithmetic", "countdown", "linear"}; }

bool in_eval_split(const Problem& p, double eval_fraction) {
  uint64_t h = 14695981039346656037ull;
  const auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(p.task);
  mix("|");
  mix(p.id);
  // FNV-1a alone is not enough: its last multiply carries the final bytes into the low
  // ~50 bits only, so the top bits — the ones compared here — depended on the id's prefix
  // and the split was by first operand ("40+…" all eval, "41+…" all train), not by
  // problem. splitmix64's finaliser lets every byte reach every bit.
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
  h ^= h >> 31;
  return double(h >> 11) * 0x1.0p-53 < eval_fraction;
}

std::vector<Problem> draw_problems(const Task& t, uint64_t seed, int n, int difficulty, bool eval,
                                   double eval_fraction) {
  if (n < 0) throw InvalidArgument("draw_problems: n = " + S(n) + " is negative");
  if (!(eval_fraction >= 0 && eval_fraction <= 1))
    throw InvalidArgument("draw_problems: eval_fraction " + std::to_string(eval_fraction) + " is not in [0, 1]");
  std::vector<Problem> out;
  if (n == 0) return out;
  const double share = eval ? eval_fraction : 1.0 - eval_fraction;
  const std::string what = S(n) + (eval ? " eval" : " train") + " problems of task " + t.name() + " at difficulty " +
                           S(difficulty);
  if (share <= 0) throw InvalidArgument("cannot draw " + what + ": that split is empty (eval_fraction " +
                                        std::to_string(eval_fraction) + ")");
  Rng rng(seed);
  std::unordered_set<std::string> seen;
  const double cap_d = 1e6 + 200.0 * n / share;
  const i64 cap = cap_d > 4e9 ? (i64)4e9 : (i64)cap_d;
  i64 stale = 0;
  for (i64 attempts = 0; (int)out.size() < n; attempts++) {
    if (attempts >= cap || stale > std::max<i64>(20000, 20 * (i64)seen.size()))
      throw InvalidArgument("cannot draw " + what + ": found " + S((i64)out.size()) + " after " + S(attempts) +
                            " draws (" + S((i64)seen.size()) + " distinct problems seen); the problem space is too small");
    Problem p = t.generate(rng, difficulty);
    if (!seen.insert(p.id).second) {
      stale++;
      continue;
    }
    stale = 0;
    if (in_eval_split(p, eval_fraction) == eval) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace aha
