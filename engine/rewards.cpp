// Rule-based rewards (R1 §2.2.2, TinyZero) and the text metrics: language mix and "aha"
// self-corrections. Nothing here throws on a completion; every score comes with a reason.
//
// Rules decided here (documented for the studio and the tests):
//  * parse_completion: tags are the exact lowercase strings <think> </think> <answer>
//    </answer>. Well formed iff each occurs exactly once, in the order <think> < </think> <
//    <answer> < </answer>, with only ASCII whitespace before <think>, between </think> and
//    <answer>, and after </answer>. `think` is the raw text between the first <think> and
//    the first </think> after it (empty when there is no such pair). `answer` is the last
//    pair: the last <answer> that is followed by a </answer>, up to the first </answer>
//    after it, trimmed — so nested "<answer><answer>5</answer></answer>" gives "5".
//  * accuracy_reward: independent of format (R1 scores them separately). No pair → 0 "no
//    <answer>"; an empty answer → 0; an answer over 4,096 bytes → 0 without calling the
//    task. The task's check_answer runs inside try/catch; anything thrown (an unknown task
//    included) → 0 with the message. A non-finite value becomes 0.
//  * language_reward: the reasoning is the <think> block (first pair, as above). No <think>
//    block → 0 "no <think> block". A block with no letters at all (pure arithmetic such as
//    "3 * 25 = 75") → 1.0: digits and symbols belong to no language, so nothing is
//    inconsistent, and a Countdown trace made of equations is not penalised. Otherwise the
//    value is the share of letters in the target script (Latin for "en", CJK for "zh")
//    among the Latin + CJK letters. An unknown target language → 0 with the reason.
//  * combined_reward: total = w.accuracy·acc + w.format·fmt + w.language·lang; all three
//    parts are always listed (even with weight 0). With tinyzero_countdown the weights are
//    not used: total = the TinyZero score, the only part "tinyzero": 1.0 when the answer is
//    correct (TinyZero looks only at the extracted answer), 0.1 when an answer is extracted
//    and the completion is well formed but the answer is wrong, 0 when there is no answer or
//    the answer is wrong and the completion is not well formed. It applies to any task
//    (TinyZero's multiplication task scores the same way).
//  * language_mix: UTF-8 decoded leniently (an invalid byte is skipped, decoding resumes at
//    the next byte; overlong forms and surrogates are invalid). Latin letters: ASCII
//    letters, Latin-1 letters (U+00C0–U+00FF without × and ÷) and Latin Extended-A/B
//    (U+0100–U+024F), counted only in words of two or more letters: a lone letter such as
//    the variable in "2x = 10" is a math symbol, not English (otherwise every Chinese
//    linear-equation trace would be "mixed"). CJK: U+4E00–U+9FFF, U+3400–U+4DBF,
//    U+F900–U+FAFF, each character counted. Everything else (CJK punctuation, digits,
//    symbols) is neither. No letters → both shares 0, not mixed. language_reward counts
//    the same way.
//  * aha_spans: see the comments above find_keywords and find_revisions.
#include "engine/rewards.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string_view>
#include <unordered_map>

#include "engine/expr.h"

namespace aha {
namespace {

constexpr size_t kMaxAnswerBytes = 4096;

const std::string kThinkOpen = "<think>", kThinkClose = "</think>";
const std::string kAnswerOpen = "<answer>", kAnswerClose = "</answer>";

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool all_ws(std::string_view s) {
  for (char c : s)
    if (!is_ws(c)) return false;
  return true;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_ws(s[b])) ++b;
  while (e > b && is_ws(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

struct TagScan {
  const std::string* tag;
  size_t count = 0;
  size_t first = std::string::npos;
};

void scan_tag(const std::string& s, TagScan& t) {
  size_t pos = s.find(*t.tag);
  t.first = pos;
  while (pos != std::string::npos) {
    ++t.count;
    pos = s.find(*t.tag, pos + t.tag->size());
  }
}

// The first <think> and the first </think> after it: [begin, end) of the contents.
bool locate_think(const std::string& s, size_t& begin, size_t& end) {
  const size_t open = s.find(kThinkOpen);
  if (open == std::string::npos) return false;
  begin = open + kThinkOpen.size();
  const size_t close = s.find(kThinkClose, begin);
  if (close == std::string::npos) return false;
  end = close;
  return true;
}

std::string fmt_share(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// ---- UTF-8 letters -------------------------------------------------------------------

// Decodes one code point at s[i] leniently: returns its length (0 = invalid byte, skip 1).
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const size_t n = s.size();
  const auto cont = [&](size_t k) { return k < n && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    if (!cont(i + 1)) return 0;
    cp = ((c & 0x1Fu) << 6) | (b(i + 1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
    cp = ((c & 0x0Fu) << 12) | ((c1 & 0x3Fu) << 6) | (b(i + 2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // above U+10FFFF
    cp = ((c & 0x07u) << 18) | ((c1 & 0x3Fu) << 12) | ((b(i + 2) & 0x3Fu) << 6) | (b(i + 3) & 0x3Fu);
    return 4;
  }
  return 0;
}

bool is_latin_letter(uint32_t cp) {
  if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) return true;
  if (cp >= 0xC0 && cp <= 0xFF) return cp != 0xD7 && cp != 0xF7;
  return cp >= 0x100 && cp <= 0x24F;
}

bool is_cjk_letter(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF);
}

struct LetterCounts {
  size_t latin = 0, cjk = 0;
};

// Latin letters count only inside words of two or more letters: a lone letter ("x" in
// "2x = 10", "x = 5") is a mathematical symbol, not English, so a Chinese trace about x is
// not "mixed". CJK characters each count.
LetterCounts count_letters(std::string_view s) {
  LetterCounts c;
  size_t i = 0, run = 0;
  const auto end_run = [&] {
    if (run >= 2) c.latin += run;
    run = 0;
  };
  while (i < s.size()) {
    uint32_t cp = 0;
    const size_t len = decode_utf8(s, i, cp);
    if (len == 0) {
      end_run();
      ++i;
      continue;
    }
    if (is_latin_letter(cp)) {
      ++run;
    } else {
      end_run();
      if (is_cjk_letter(cp)) ++c.cjk;
    }
    i += len;
  }
  end_run();
  return c;
}

// ---- aha ----------------------------------------------------------------------------

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// Keywords: matched case-insensitively for ASCII letters (other bytes exactly). A keyword
// that begins (ends) with an ASCII letter or digit must not be preceded (followed) by an
// ASCII letter or digit — whole words, so "check" does not match "checkpoint" or
// "recheck", nor "wait" "weight" or "waiting", while "Wait," and "double-check" do. Chinese
// keywords have no word boundaries and match as substrings. Matches of one keyword do not
// overlap; a match lying inside another keyword's match ("检查" in "再检查", "check" in
// "let me check") is dropped, the longer one kept.
std::vector<AhaSpan> find_keywords(const std::string& text, const std::vector<std::string>& keywords) {
  std::string low(text);
  for (char& c : low) c = lower_ascii(c);
  std::vector<AhaSpan> found;
  for (const std::string& kw0 : keywords) {
    if (kw0.empty()) continue;
    std::string kw(kw0);
    for (char& c : kw) c = lower_ascii(c);
    const bool word_start = is_ascii_alnum(kw.front()), word_end = is_ascii_alnum(kw.back());
    size_t pos = low.find(kw);
    while (pos != std::string::npos) {
      const size_t end = pos + kw.size();
      const bool ok = (!word_start || pos == 0 || !is_ascii_alnum(low[pos - 1])) &&
                      (!word_end || end >= low.size() || !is_ascii_alnum(low[end]));
      if (ok) found.push_back({pos, end, "keyword"});
      pos = low.find(kw, ok ? end : pos + 1);
    }
  }
  std::sort(found.begin(), found.end(), [](const AhaSpan& a, const AhaSpan& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::vector<AhaSpan> kept;
  size_t max_end = 0;
  for (const AhaSpan& s : found) {
    if (!kept.empty() && s.end <= max_end) continue;  // inside an earlier, longer match
    kept.push_back(s);
    max_end = std::max(max_end, s.end);
  }
  return kept;
}

// Length of an expression character ending just before `i` (0 = none): ASCII digits,
// letters, + - * / ^ ( ) space, tab, '.' between digits, and the two-byte UTF-8 × (C3 97)
// and ÷ (C3 B7).
size_t expr_char_before(const std::string& s, size_t i) {
  if (i == 0) return 0;
  const char c = s[i - 1];
  if (is_ascii_alnum(c) || c == '+' || c == '-' || c == '*' || c == '/' || c == '^' || c == '(' ||
      c == ')' || c == ' ' || c == '\t')
    return 1;
  // A decimal point between digits; a full stop ends the expression.
  if (c == '.' && i < s.size() && is_ascii_digit(s[i]) && i >= 2 && is_ascii_digit(s[i - 2])) return 1;
  const auto u = static_cast<unsigned char>(c);
  if ((u == 0x97 || u == 0xB7) && i >= 2 && static_cast<unsigned char>(s[i - 2]) == 0xC3) return 2;
  return 0;
}

// Structural "aha": an intermediate result stated, then revised.
//
// A statement is "LHS = VALUE" where
//  * '=' is a lone '=' (not part of ==, <=, >=, !=);
//  * VALUE follows after optional spaces: an optional '-', 1–30 digits, an optional
//    fraction ".digits", and an optional "/digits"; it must not be followed (after spaces)
//    by an operator, '(', '=', a letter or a digit — "x = 3 + 4" is not a statement;
//  * LHS is the run of expression characters (digits, ASCII letters, + - * / × ÷ ^ ( ),
//    spaces, and '.' between two digits; at most 200 bytes) just before '=', starting after
//    its last prose word (a standalone run of two or more letters, such as "so", "then"). Its canonical form drops spaces,
//    lowercases letters and writes × ÷ as * /. It must contain an operator or a letter, so
//    "75 = 75" is not a statement.
// A statement whose canonical LHS was stated earlier in the text with a different value
// (|a − b| > 1e-9·max(1, |a|)) is a revision: the span covers the later statement, LHS
// through VALUE. The newest value is then the one to compare against; restating the same
// value is no revision. Linear time: each '=' scans back only to the previous '='.
std::vector<AhaSpan> find_revisions(const std::string& s) {
  std::vector<AhaSpan> out;
  std::unordered_map<std::string, long double> last;
  const size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    if (s[i] != '=') continue;
    if (i > 0 && (s[i - 1] == '<' || s[i - 1] == '>' || s[i - 1] == '!' || s[i - 1] == '=')) continue;
    if (i + 1 < n && s[i + 1] == '=') continue;
    // VALUE
    size_t j = i + 1;
    while (j < n && (s[j] == ' ' || s[j] == '\t')) ++j;
    bool neg = false;
    if (j < n && s[j] == '-') {
      neg = true;
      ++j;
    }
    const size_t int_begin = j;
    while (j < n && is_ascii_digit(s[j]) && j - int_begin < 31) ++j;
    const size_t int_len = j - int_begin;
    if (int_len == 0 || int_len > 30) continue;
    long double value = 0;
    for (size_t k = int_begin; k < j; ++k) value = value * 10 + (s[k] - '0');
    if (j + 1 < n && s[j] == '.' && is_ascii_digit(s[j + 1])) {
      ++j;
      long double scale = 0.1L;
      const size_t frac_begin = j;
      while (j < n && is_ascii_digit(s[j]) && j - frac_begin < 30) {
        value += (s[j] - '0') * scale;
        scale /= 10;
        ++j;
      }
    }
    if (j + 1 < n && s[j] == '/' && is_ascii_digit(s[j + 1])) {
      ++j;
      long double den = 0;
      const size_t den_begin = j;
      while (j < n && is_ascii_digit(s[j]) && j - den_begin < 30) den = den * 10 + (s[j++] - '0');
      if (den == 0) continue;
      value /= den;
    }
    const size_t value_end = j;
    size_t k = j;
    while (k < n && (s[k] == ' ' || s[k] == '\t')) ++k;
    if (k < n && (is_ascii_alnum(s[k]) || s[k] == '+' || s[k] == '-' || s[k] == '*' || s[k] == '/' ||
                  s[k] == '^' || s[k] == '(' || s[k] == '=' || (s[k] == '.' && k + 1 < n && is_ascii_digit(s[k + 1]))))
      continue;
    if (k + 1 < n && static_cast<unsigned char>(s[k]) == 0xC3 &&
        (static_cast<unsigned char>(s[k + 1]) == 0x97 || static_cast<unsigned char>(s[k + 1]) == 0xB7))
      continue;
    if (neg) value = -value;
    // LHS
    size_t b = i;
    while (i - b < 200) {
      const size_t len = expr_char_before(s, b);
      if (len == 0 || i - (b - len) > 200) break;
      b -= len;
    }
    // The expression starts after the last prose word: a standalone run of two or more
    // letters ("so", "then"; not "2xy").
    for (size_t p = b; p < i;) {
      if (!is_ascii_alpha(s[p])) {
        ++p;
        continue;
      }
      size_t w = p;
      while (w < i && is_ascii_alpha(s[w])) ++w;
      const bool alone = (p == b || s[p - 1] == ' ' || s[p - 1] == '\t') && (w == i || s[w] == ' ' || s[w] == '\t');
      if (alone && w - p >= 2) b = w;
      p = w;
    }
    while (b < i && (s[b] == ' ' || s[b] == '\t')) ++b;
    std::string canon;
    bool has_op_or_letter = false;
    for (size_t p = b; p < i; ++p) {
      const char c = s[p];
      if (c == ' ' || c == '\t') continue;
      const auto u = static_cast<unsigned char>(c);
      if (u == 0xC3 && p + 1 < i) {
        canon += static_cast<unsigned char>(s[p + 1]) == 0x97 ? '*' : '/';
        has_op_or_letter = true;
        ++p;
        continue;
      }
      if (c == '+' || c == '-' || c == '*' || c == '/' || c == '^' || is_ascii_alpha(c)) has_op_or_letter = true;
      canon += lower_ascii(c);
    }
    if (canon.empty() || !has_op_or_letter) continue;
    auto it = last.find(canon);
    if (it == last.end()) {
      last.emplace(std::move(canon), value);
      continue;
    }
    const long double prev = it->second;
    if (std::fabs(value - prev) > 1e-9L * std::max<long double>(1.0L, std::fabs(prev))) {
      out.push_back({b, value_end, "revision"});
      it->second = value;
    }
  }
  return out;
}

}  // namespace

// ---- completions ----------------------------------------------------------------------

ParsedCompletion parse_completion(const std::string& completion) {
  ParsedCompletion pc;
  const std::string& s = completion;

  // The answer: the last <answer> followed by a </answer>, up to the first </answer> after it.
  const size_t last_close = s.rfind(kAnswerClose);
  if (last_close != std::string::npos) {
    const size_t open = last_close == 0 ? std::string::npos : s.rfind(kAnswerOpen, last_close - 1);
    if (open != std::string::npos && open + kAnswerOpen.size() <= last_close) {
      const size_t begin = open + kAnswerOpen.size();
      const size_t close = s.find(kAnswerClose, begin);  // <= last_close
      pc.has_answer = true;
      pc.answer = trim(std::string_view(s).substr(begin, close - begin));
    }
  }
  size_t tb = 0, te = 0;
  if (locate_think(s, tb, te)) pc.think = s.substr(tb, te - tb);

  if (all_ws(s)) {
    pc.reason = "empty completion";
    return pc;
  }
  TagScan tags[4] = {{&kThinkOpen}, {&kThinkClose}, {&kAnswerOpen}, {&kAnswerClose}};
  std::string problems;
  for (TagScan& t : tags) {
    scan_tag(s, t);
    std::string p;
    if (t.count == 0) {
      p = "missing " + *t.tag;
    } else if (t.count > 1) {
      p = *t.tag + " appears " + std::to_string(t.count) + " times";
    }
    if (!p.empty()) problems += (problems.empty() ? "" : "; ") + p;
  }
  if (!problems.empty()) {
    pc.reason = problems;
    return pc;
  }
  for (int k = 0; k < 3; ++k) {
    if (tags[k].first > tags[k + 1].first) {
      pc.reason = "tags out of order: " + *tags[k + 1].tag + " comes before " + *tags[k].tag;
      return pc;
    }
  }
  const std::string_view v(s);
  if (!all_ws(v.substr(0, tags[0].first))) {
    pc.reason = "text before <think>";
    return pc;
  }
  const size_t between = tags[1].first + kThinkClose.size();
  if (!all_ws(v.substr(between, tags[2].first - between))) {
    pc.reason = "text between </think> and <answer>";
    return pc;
  }
  const size_t after = tags[3].first + kAnswerClose.size();
  if (!all_ws(v.substr(after))) {
    pc.reason = "text after </answer>";
    return pc;
  }
  pc.well_formed = true;
  pc.reason = "well formed";
  return pc;
}

RewardResult format_reward(const std::string& completion) {
  const ParsedCompletion pc = parse_completion(completion);
  if (pc.well_formed) return {1.0, "well formed: <think> ... </think> <answer> ... </answer>"};
  return {0.0, "not well formed: " + pc.reason};
}

RewardResult accuracy_reward(const Problem& p, const std::string& completion) {
  const ParsedCompletion pc = parse_completion(completion);
  if (!pc.has_answer) return {0.0, "no <answer>"};
  if (pc.answer.empty()) return {0.0, "empty <answer>"};
  if (pc.answer.size() > kMaxAnswerBytes)
    return {0.0, "answer too long: " + std::to_string(pc.answer.size()) + " bytes (at most " +
                     std::to_string(kMaxAnswerBytes) + ")"};
  try {
    RewardResult r = task_by_name(p.task).check_answer(p, pc.answer);
    if (!std::isfinite(r.value)) return {0.0, "answer check returned a non-finite score: " + r.reason};
    return r;
  } catch (const std::exception& e) {
    return {0.0, std::string("answer check failed: ") + e.what()};
  } catch (...) {
    return {0.0, "answer check failed with an unknown error"};
  }
}

RewardResult language_reward(const std::string& completion, const std::string& target_language) {
  if (target_language != "en" && target_language != "zh")
    return {0.0, "unknown target language '" + target_language + "' (en, zh)"};
  size_t tb = 0, te = 0;
  if (!locate_think(completion, tb, te)) return {0.0, "no <think> block"};
  const LetterCounts c = count_letters(std::string_view(completion).substr(tb, te - tb));
  const size_t total = c.latin + c.cjk;
  if (total == 0) return {1.0, "no letters in the reasoning: nothing to be inconsistent"};
  const bool en = target_language == "en";
  const size_t hit = en ? c.latin : c.cjk;
  const double share = static_cast<double>(hit) / static_cast<double>(total);
  return {share, std::to_string(hit) + " of " + std::to_string(total) + " letters in " +
                     (en ? "Latin" : "CJK") + " script (" + std::to_string(c.latin) + " Latin, " +
                     std::to_string(c.cjk) + " CJK): " + fmt_share(share)};
}

RewardBreakdown combined_reward(const Problem& p, const std::string& completion, const RewardWeights& w) {
  RewardBreakdown out;
  if (w.tinyzero_countdown) {
    const ParsedCompletion pc = parse_completion(completion);
    RewardResult r;
    if (!pc.has_answer) {
      r = {0.0, "no <answer>"};
    } else {
      const RewardResult acc = accuracy_reward(p, completion);
      if (acc.value >= 1.0) {
        r = {1.0, "correct: " + acc.reason};
      } else if (pc.well_formed) {
        r = {0.1, "well formed but wrong: " + acc.reason};
      } else {
        r = {0.0, "wrong and not well formed (" + pc.reason + "): " + acc.reason};
      }
    }
    out.total = r.value;
    out.parts["tinyzero"] = std::move(r);
    return out;
  }
  RewardResult acc = accuracy_reward(p, completion);
  RewardResult fmt = format_reward(completion);
  RewardResult lang = language_reward(completion, w.target_language);
  out.total = w.accuracy * acc.value + w.format * fmt.value + w.language * lang.value;
  out.parts["accuracy"] = std::move(acc);
  out.parts["format"] = std::move(fmt);
  out.parts["language"] = std::move(lang);
  return out;
}

// ---- Countdown ----------------------------------------------------------------------

RewardResult countdown_check(const std::vector<int>& numbers, int target, const std::string& expr) {
  const ExprEval ev = evaluate_countdown_expr(expr);
  if (!ev.syntax_ok) return {0.0, ev.syntax_error};

  // The multiset of numbers, each used exactly once.
  std::map<int64_t, int> given, used;
  for (int v : numbers) ++given[v];
  for (int64_t v : ev.numbers) ++used[v];
  const auto times = [](int k) {
    return k == 1 ? std::string("once") : k == 2 ? std::string("twice") : std::to_string(k) + " times";
  };
  std::string problems;
  const auto add = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  for (const auto& [v, k] : used) {
    const auto it = given.find(v);
    const int g = it == given.end() ? 0 : it->second;
    if (g == 0) {
      add("uses " + std::to_string(v) + ", which is not one of the numbers");
    } else if (k > g) {
      add("uses " + std::to_string(v) + " " + times(k) + (g == 1 ? "" : " but it is given " + times(g)));
    }
  }
  for (const auto& [v, g] : given) {
    const auto it = used.find(v);
    const int k = it == used.end() ? 0 : it->second;
    if (k == 0) {
      add("does not use " + std::to_string(v));
    } else if (k < g) {
      add("uses " + std::to_string(v) + " " + times(k) + " but it is given " + times(g));
    }
  }
  if (!problems.empty()) return {0.0, problems};

  if (!ev.value_ok) return {0.0, ev.value_error};
  const Rational r = ev.value;
  const long double diff =
      static_cast<long double>(static_cast<__int128>(r.num) - static_cast<__int128>(target) * r.den) /
      static_cast<long double>(r.den);
  std::string shown = to_string(r);
  if (r.den != 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " (%.6Lg)", static_cast<long double>(r.num) / r.den);
    shown += buf;
  }
  if (std::fabs(diff) < 1e-5L) return {1.0, "evaluates to " + shown + " = " + std::to_string(target)};
  return {0.0, "evaluates to " + shown + ", not " + std::to_string(target)};
}

// ---- language mix -----------------------------------------------------------------

LanguageMix language_mix(const std::string& text) {
  const LetterCounts c = count_letters(text);
  LanguageMix m;
  const size_t total = c.latin + c.cjk;
  if (total == 0) return m;
  m.cjk_share = static_cast<double>(c.cjk) / static_cast<double>(total);
  m.latin_share = static_cast<double>(c.latin) / static_cast<double>(total);
  m.mixed = c.latin >= 2 && c.cjk >= 2;
  return m;
}

std::vector<ByteSpan> off_target_spans(const std::string& text, const std::string& target) {
  std::vector<ByteSpan> out;
  if (target != "en" && target != "zh") return out;
  const bool want_cjk = target == "en";  // the script that leaves the target language
  bool open = false;
  ByteSpan cur;
  // One letter run seen: off-target runs extend the open span, target runs close it;
  // neither-script characters between them leave it open (they belong to no language).
  const auto letters = [&](bool cjk, size_t b, size_t e) {
    if (cjk == want_cjk) {
      if (!open) cur.begin = b;
      cur.end = e;
      open = true;
    } else if (open) {
      out.push_back(cur);
      open = false;
    }
  };
  const std::string_view s = text;
  size_t i = 0, run = 0, run_begin = 0;
  const auto end_run = [&](size_t at) {
    if (run >= 2) letters(false, run_begin, at);  // a lone letter is a math symbol, as in count_letters
    run = 0;
  };
  while (i < s.size()) {
    uint32_t cp = 0;
    const size_t len = decode_utf8(s, i, cp);
    if (len == 0) {
      end_run(i);
      ++i;
      continue;
    }
    if (is_latin_letter(cp)) {
      if (run++ == 0) run_begin = i;
    } else {
      end_run(i);
      if (is_cjk_letter(cp)) letters(true, i, i + len);
    }
    i += len;
  }
  end_run(i);
  if (open) out.push_back(cur);
  return out;
}

// ---- aha ----------------------------------------------------------------------------

const std::vector<std::string>& default_aha_keywords() {
  static const std::vector<std::string> k = {
      // R1 (Nature version, Extended Data Fig. 1)
      "wait", "mistake", "however", "retry", "verify", "wrong", "check", "error",
      // understand-R1-Zero
      "recheck", "rethink", "reevaluate", "re-evaluate", "double-check", "let me check", "try again",
      // Chinese
      "等等", "等一下", "检查", "再检查", "错了", "不对", "重新", "验证"};
  return k;
}

std::vector<AhaSpan> aha_spans(const std::string& text) { return aha_spans(text, default_aha_keywords()); }

std::vector<AhaSpan> aha_spans(const std::string& text, const std::vector<std::string>& keywords) {
  std::vector<AhaSpan> out = find_keywords(text, keywords);
  std::vector<AhaSpan> rev = find_revisions(text);
  out.insert(out.end(), rev.begin(), rev.end());
  std::stable_sort(out.begin(), out.end(), [](const AhaSpan& a, const AhaSpan& b) { return a.begin < b.begin; });
  return out;
}

}  // namespace aha
