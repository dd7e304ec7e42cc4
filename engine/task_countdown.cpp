// Countdown (TinyZero): reach a target with + - * / over 3-4 numbers, each used once.
// Problems are built from a random expression over the numbers (so one exists); the
// worked solution searches, notes a miss, backtracks and finds a combination.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/rewards.h"
#include "engine/task_internal.h"

namespace aha {

using namespace task_detail;

namespace {

// ---- countdown ----------------------------------------------------------------------------

struct Op { i64 x; char op; i64 y; i64 z; };

i64 apply(i64 x, char op, i64 y) { return op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y; }

// The ops that keep every intermediate a positive integer (exact division only).
bool op_ok(i64 x, char op, i64 y) {
  if (op == '-') return x > y;
  if (op == '/') return y > 0 && x % y == 0;
  return true;
}

// An expression node: its value, text and precedence (1: + -, 2: * /, 3: atom).
struct Node { i64 v; std::string s; int prec; };

Node combine(const Node& l, char op, const Node& r) {
  const int p = (op == '+' || op == '-') ? 1 : 2;
  const bool pl = l.prec < p, pr = r.prec < p || (r.prec == p && (op == '-' || op == '/'));
  return {apply(l.v, op, r.v), (pl ? "(" + l.s + ")" : l.s) + " " + op + " " + (pr ? "(" + r.s + ")" : r.s), p};
}

// Depth-first search for an expression over `items` equal to target; ops in order.
bool solve(std::vector<Node>& items, i64 target, const std::array<char, 4>& ops, std::vector<Op>& path, Node& found) {
  if (items.size() == 1) {
    if (items[0].v != target) return false;
    found = items[0];
    return true;
  }
  for (size_t i = 0; i < items.size(); i++)
    for (size_t j = 0; j < items.size(); j++) {
      if (i == j) continue;
      for (char op : ops) {
        if ((op == '+' || op == '*') && j < i) continue;  // commutative: one order
        if (!op_ok(items[i].v, op, items[j].v)) continue;
        const Node n = combine(items[i], op, items[j]);
        if (std::llabs(n.v) > 1000000000LL) continue;
        std::vector<Node> next;
        for (size_t k = 0; k < items.size(); k++)
          if (k != i && k != j) next.push_back(items[k]);
        next.push_back(n);
        path.push_back({items[i].v, op, items[j].v, n.v});
        if (solve(next, target, ops, path, found)) return true;
        path.pop_back();
      }
    }
  return false;
}

std::string numbers_text(const std::vector<int>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); i++) {
    if (i) s += sep;
    s += S(v[i]);
  }
  return s;
}

class CountdownTask final : public Task {
 public:
  std::string name() const override { return "countdown"; }

  // Difficulty 1: 3 numbers in 1..20; 2: 3 numbers in 1..50; 3: 4 numbers in 1..50. The
  // target (1..200) is the value of a random expression over the numbers, so one exists.
  Problem generate(Rng& rng, int d) const override {
    if (d < 1 || d > 3) throw InvalidArgument("countdown difficulty " + S(d) + " is not in [1, 3]");
    const int count = d == 3 ? 4 : 3, hi = d == 1 ? 20 : 50;
    for (;;) {
      std::vector<Node> items;
      std::vector<int> numbers;
      for (int k = 0; k < count; k++) {
        const int v = 1 + (int)rng.below(hi);
        numbers.push_back(v);
        items.push_back({v, S(v), 3});
      }
      while (items.size() > 1) {
        const size_t i = rng.below(items.size());
        size_t j = rng.below(items.size() - 1);
        if (j >= i) j++;
        const Node l = items[i], r = items[j];
        std::vector<char> ops{'+', '*'};
        if (l.v > r.v) ops.push_back('-');
        if (r.v > 1 && l.v % r.v == 0) ops.push_back('/');
        const Node n = combine(l, ops[rng.below(ops.size())], r);
        items.erase(items.begin() + std::max(i, j));
        items.erase(items.begin() + std::min(i, j));
        items.push_back(n);
      }
      if (items[0].v < 1 || items[0].v > 200) continue;
      std::sort(numbers.begin(), numbers.end());
      Problem p;
      p.task = "countdown";
      p.id = "countdown:" + numbers_text(numbers, ",") + "->" + S(items[0].v);
      p.question = "Using the numbers [" + numbers_text(numbers, ", ") + "], create an equation that equals " +
                   S(items[0].v) + ". Use each number exactly once with + - * /.";
      p.answer = items[0].s;
      p.data = {{"numbers", numbers}, {"target", items[0].v}};
      p.difficulty = d;
      return p;
    }
  }

  // A short search: one chain (a quarter of the time two, with 3 numbers) that misses
  // ("Try 25 + 7 = 32, 32 * 3 = 96, too big."),
  // then the steps of a solution found by depth-first search.
  std::string solution(const Problem& p, const TraceStyle& style, Rng& rng) const override {
    check_task(p, name());
    const CountdownData d = countdown_data(p.data);
    const i64 target = d.target;
    std::vector<int> shuffled = d.numbers;
    for (size_t i = shuffled.size(); i > 1; i--) std::swap(shuffled[i - 1], shuffled[rng.below(i)]);
    std::array<char, 4> ops{'*', '+', '-', '/'};
    for (size_t i = ops.size(); i > 1; i--) std::swap(ops[i - 1], ops[rng.below(i)]);
    std::vector<Node> items;
    for (int v : shuffled) items.push_back({v, S(v), 3});
    std::vector<Op> path;
    Node found{};
    if (!solve(items, target, ops, path, found))
      throw InvalidArgument("countdown problem " + quote(p.id) + " has no solution with whole-number steps");

    Trace t;
    const auto add_chain = [&](const std::vector<Op>& chain) {
      for (size_t k = 0; k < chain.size(); k++) {
        const Op o = chain[k];
        const bool last = k + 1 == chain.size();
        Step s;
        s.label_en = k == 0 ? "Try " : "";
        s.label_zh = k == 0 ? "试试 " : "";
        s.body = [o, last, target](i64 v, bool zh) {
          std::string txt = arith_text(o.x, o.op, o.y) + " = " + S(v);
          if (last)
            txt += v > target ? (zh ? "，太大了" : ", too big")
                   : v < target ? (zh ? "，太小了" : ", too small")
                                : (zh ? "，正好" : ", that works");
          return txt;
        };
        s.value = o.z;
        s.can_err = true;
        s.wrong_min = 1;
        s.wrong_avoid = target;
        s.comma = !last;
        s.new_line = k == 0;
        t.steps.push_back(std::move(s));
      }
    };
    // Misses: random chains left to right over a shuffled order that do not hit the target.
    const int misses = d.numbers.size() >= 4 || rng.below(4) != 0 ? 1 : 2;  // short: small contexts
    for (int m = 0, tries = 0; m < misses && tries < 20; tries++) {
      std::vector<int> order = d.numbers;
      for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[rng.below(i)]);
      std::vector<Op> chain;
      i64 v = order[0];
      for (size_t k = 1; k < order.size(); k++) {
        std::vector<char> can;
        for (char op : {'+', '-', '*', '/'})
          if (op_ok(v, op, order[k])) can.push_back(op);
        const char op = can[rng.below(can.size())];
        chain.push_back({v, op, order[k], apply(v, op, order[k])});
        v = chain.back().z;
      }
      if (v == target) continue;
      add_chain(chain);
      m++;
    }
    add_chain(path);
    t.conclusion_en = "So " + found.s + " = " + S(target) + ".";
    t.conclusion_zh = "所以 " + found.s + " = " + S(target) + "。";
    t.summary = found.s + " = " + S(target);
    t.answer = found.s;
    return render(t, style, rng);
  }

  RewardResult check_answer(const Problem& p, const std::string& answer) const override {
    try {
      const CountdownData d = countdown_data(p.data);
      if (trim(answer).empty()) return {0.0, "empty answer"};
      if (answer.size() > 4096) return {0.0, "answer too long: " + S((i64)answer.size()) + " bytes"};
      return countdown_check(d.numbers, d.target, answer);
    } catch (const std::exception& e) {
      return {0.0, std::string("cannot check: ") + e.what()};
    } catch (...) {
      return {0.0, "cannot check: unknown error"};
    }
  }
};

}  // namespace

const Task& countdown_task() {
  static const CountdownTask t;
  return t;
}

}  // namespace aha
