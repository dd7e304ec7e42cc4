// The Countdown expression parser and exact evaluator (see expr.h for the grammar).
#include "engine/expr.h"

#include <cstdio>
#include <limits>

namespace aha {
namespace {

using i128 = __int128;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

i128 abs128(i128 v) { return v < 0 ? -v : v; }

i128 gcd128(i128 a, i128 b) {
  a = abs128(a);
  b = abs128(b);
  while (b != 0) {
    const i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Reduces num/den (den != 0) and checks that both fit in 64 bits (|num| <= INT64_MAX).
bool make_rational(i128 num, i128 den, Rational& out) {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  const i128 g = gcd128(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  if (abs128(num) > kMax || den > kMax) return false;
  out.num = static_cast<int64_t>(num);
  out.den = static_cast<int64_t>(den);
  return true;
}

std::string describe_byte(unsigned char c) {
  char buf[32];
  if (c >= 0x21 && c < 0x7F) {
    std::snprintf(buf, sizeof buf, "'%c'", c);
  } else {
    std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  }
  return buf;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A value during evaluation: `ok` is false once an evaluation error happened somewhere
// below; parsing carries on so that syntax errors and the full list of numbers are found.
struct Val {
  bool ok = true;
  Rational r;
};

class Parser {
 public:
  Parser(std::string_view s, ExprEval& out) : s_(s), out_(out) {}

  void run() {
    skip_space();
    if (pos_ >= s_.size()) {
      fail("empty expression");
      return;
    }
    Val v = expr();
    if (failed_) return;
    skip_space();
    if (pos_ < s_.size()) {
      if (s_[pos_] == ')') {
        fail("unmatched ')' at position " + std::to_string(pos_));
      } else {
        fail("expected an operator at position " + std::to_string(pos_) + ", found " +
             describe_byte(static_cast<unsigned char>(s_[pos_])));
      }
      return;
    }
    out_.syntax_ok = true;
    if (v.ok && eval_error_.empty()) {
      out_.value_ok = true;
      out_.value = v.r;
    } else {
      out_.value_error = eval_error_.empty() ? "evaluation failed" : eval_error_;
    }
  }

 private:
  void fail(const std::string& msg) {
    if (!failed_) {
      failed_ = true;
      out_.syntax_error = msg;
    }
  }
  void eval_fail(const std::string& msg) {
    if (eval_error_.empty()) eval_error_ = msg;
  }
  void skip_space() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }

  Val combine(const Val& a, char op, const Val& b, size_t op_pos) {
    Val r;
    if (!a.ok || !b.ok) {
      r.ok = false;
      return r;
    }
    const i128 an = a.r.num, ad = a.r.den, bn = b.r.num, bd = b.r.den;
    i128 n = 0, d = 1;
    switch (op) {
      case '+': n = an * bd + bn * ad; d = ad * bd; break;
      case '-': n = an * bd - bn * ad; d = ad * bd; break;
      case '*': n = an * bn; d = ad * bd; break;
      default:  // '/'
        if (bn == 0) {
          eval_fail("division by zero (the '/' at position " + std::to_string(op_pos) + ")");
          r.ok = false;
          return r;
        }
        n = an * bd;
        d = ad * bn;
        break;
    }
    if (!make_rational(n, d, r.r)) {
      eval_fail("overflow: an intermediate value (the '" + std::string(1, op) + "' at position " +
                std::to_string(op_pos) + ") does not fit in 64 bits");
      r.ok = false;
    }
    return r;
  }

  Val expr() {
    Val v = term();
    while (!failed_) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '+' && s_[pos_] != '-')) break;
      const char op = s_[pos_];
      const size_t op_pos = pos_++;
      Val rhs = term();
      if (failed_) break;
      v = combine(v, op, rhs, op_pos);
    }
    return v;
  }

  Val term() {
    Val v = factor();
    while (!failed_) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '*' && s_[pos_] != '/')) break;
      const char op = s_[pos_];
      const size_t op_pos = pos_++;
      Val rhs = factor();
      if (failed_) break;
      v = combine(v, op, rhs, op_pos);
    }
    return v;
  }

  Val factor() {
    Val v;
    skip_space();
    if (pos_ >= s_.size()) {
      fail("expression ends early: expected a number or '(' at position " + std::to_string(pos_));
      return v;
    }
    const char c = s_[pos_];
    if (c == '(') {
      if (++depth_ > kMaxExprDepth) {
        fail("nested too deep: more than " + std::to_string(kMaxExprDepth) +
             " levels of parentheses (at position " + std::to_string(pos_) + ")");
        return v;
      }
      const size_t open = pos_++;
      v = expr();
      if (failed_) return v;
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != ')') {
        if (pos_ >= s_.size()) {
          fail("unclosed '(' at position " + std::to_string(open));
        } else {
          fail("expected ')' at position " + std::to_string(pos_) + " (for the '(' at position " +
               std::to_string(open) + "), found " + describe_byte(static_cast<unsigned char>(s_[pos_])));
        }
        return v;
      }
      ++pos_;
      --depth_;
      return v;
    }
    if (is_digit(c)) {
      const size_t start = pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
      const size_t len = pos_ - start;
      if (len > static_cast<size_t>(kMaxNumberDigits)) {
        fail("number too long: " + std::to_string(len) + " digits at position " + std::to_string(start) +
             " (at most " + std::to_string(kMaxNumberDigits) + ")");
        return v;
      }
      int64_t n = 0;
      for (size_t i = start; i < pos_; ++i) n = n * 10 + (s_[i] - '0');
      out_.numbers.push_back(n);
      v.r = Rational{n, 1};
      return v;
    }
    if (c == '-' || c == '+') {
      fail(std::string("unary ") + (c == '-' ? "minus" : "plus") + " at position " + std::to_string(pos_) +
           " is not allowed (numbers are used as given)");
      return v;
    }
    if (c == ')') {
      fail("expected a number or '(' at position " + std::to_string(pos_) + ", found ')'");
      return v;
    }
    fail("expected a number or '(' at position " + std::to_string(pos_) + ", found " +
         describe_byte(static_cast<unsigned char>(c)));
    return v;
  }

  std::string_view s_;
  ExprEval& out_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  std::string eval_error_;
};

}  // namespace

std::string to_string(const Rational& r) {
  if (r.den == 1) return std::to_string(r.num);
  return std::to_string(r.num) + "/" + std::to_string(r.den);
}

ExprEval evaluate_countdown_expr(std::string_view text) {
  ExprEval out;
  if (text.size() > kMaxExprBytes) {
    out.syntax_error = "expression too long: " + std::to_string(text.size()) + " bytes (at most " +
                       std::to_string(kMaxExprBytes) + ")";
    return out;
  }
  // The alphabet first, so that '=' or a letter is named even after other problems.
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_digit(c) || is_space(c) || c == '+' || c == '-' || c == '*' || c == '/' || c == '(' || c == ')')
      continue;
    out.syntax_error = "invalid character " + describe_byte(static_cast<unsigned char>(c)) + " at position " +
                       std::to_string(i) + " (only digits, + - * / ( ) and spaces are allowed)";
    return out;
  }
  Parser(text, out).run();
  if (!out.syntax_ok) out.numbers.clear();
  return out;
}

}  // namespace aha
