// The Countdown expression parser: the project's own recursive-descent parser and exact
// evaluator for answers such as "(25 - 4) * 3 + 16". Never a general-purpose eval.
//
// Grammar (no unary minus or plus: TinyZero's numbers are used as given):
//   expr   := term   (('+' | '-') term)*
//   term   := factor (('*' | '/') factor)*
//   factor := NUMBER | '(' expr ')'
//   NUMBER := [0-9]{1,9}            (checked as written: ten or more digits is refused)
// Allowed bytes: digits, + - * / ( ) and ASCII whitespace (space, tab, CR, LF). Any other
// byte is refused with its position (0-based byte offset). Limits: 1,000 bytes of input,
// 100 levels of parentheses. Values are exact rationals with 64-bit numerator and
// denominator; an intermediate value that does not fit is refused ("overflow").
// Nothing here throws on input: every failure is a message.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aha {

inline constexpr size_t kMaxExprBytes = 1000;
inline constexpr int kMaxExprDepth = 100;
inline constexpr int kMaxNumberDigits = 9;

// num/den in lowest terms, den > 0.
struct Rational {
  int64_t num = 0, den = 1;
};
std::string to_string(const Rational& r);  // "78", "157/2", "-3/4"

struct ExprEval {
  bool syntax_ok = false;        // the text parses; `numbers` then lists every number
  std::string syntax_error;      // when !syntax_ok
  std::vector<int64_t> numbers;  // the numbers as written, left to right
  bool value_ok = false;         // syntax_ok and evaluation succeeded
  std::string value_error;       // "division by zero" / "overflow ..." when syntax_ok && !value_ok
  Rational value;                // when value_ok
};

ExprEval evaluate_countdown_expr(std::string_view text);

}  // namespace aha
