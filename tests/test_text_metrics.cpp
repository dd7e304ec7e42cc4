// The text detectors the studio shows beside the rewards: the language mix of a chain of
// thought and "aha" self-corrections (keyword and revision spans), on hand-written English
// and Chinese, and on the tasks' own self-corrected worked solutions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/rewards.h"
#include "engine/rng.h"
#include "engine/task.h"

namespace aha {
namespace {

std::string wrap(const std::string& think, const std::string& answer) {
  return "<think>" + think + "</think> <answer>" + answer + "</answer>";
}

// ---- language mix ----------------------------------------------------------------------

TEST(Rewards, LanguageMix) {
  auto m = language_mix("First, multiply 25 by 3.");
  EXPECT_EQ(m.latin_share, 1.0);
  EXPECT_EQ(m.cjk_share, 0.0);
  EXPECT_FALSE(m.mixed);
  m = language_mix("先把二十五乘以三，得到七十五。");
  EXPECT_EQ(m.cjk_share, 1.0);  // the commas and full stops are neither
  EXPECT_FALSE(m.mixed);
  m = language_mix("先算 25 * 3 = 75, then add 4");  // 2 CJK, 7 Latin
  EXPECT_DOUBLE_EQ(m.cjk_share, 2.0 / 9.0);
  EXPECT_DOUBLE_EQ(m.latin_share, 7.0 / 9.0);
  EXPECT_TRUE(m.mixed);
  m = language_mix("先 then");  // one CJK letter: not mixed
  EXPECT_FALSE(m.mixed);
  m = language_mix("好的 ab");  // two Latin letters, two CJK: mixed
  EXPECT_TRUE(m.mixed);
  // A lone Latin letter is a math symbol, not a word: Chinese about x is not mixed.
  m = language_mix("两边除以 2：x = 10 / 2 = 5。所以 2x = 10, x = 5");
  EXPECT_EQ(m.cjk_share, 1.0);
  EXPECT_FALSE(m.mixed);
  m = language_mix("I think a b c xy");  // "think" and "xy": 7 letters
  EXPECT_EQ(m.latin_share, 1.0);
  EXPECT_EQ(language_reward(wrap("I think 因为 a", "x"), "en").reason,
            "5 of 7 letters in Latin script (5 Latin, 2 CJK): 0.714");
  m = language_mix("");
  EXPECT_EQ(m.cjk_share, 0.0);
  EXPECT_EQ(m.latin_share, 0.0);
  EXPECT_FALSE(m.mixed);
  m = language_mix("123 + 456 = 579 。，、「」");
  EXPECT_EQ(m.cjk_share + m.latin_share, 0.0);
  // Latin-1 letters count as Latin; × and ÷ do not.
  m = language_mix("café \xc3\x97\xc3\xb7 中文");
  EXPECT_DOUBLE_EQ(m.latin_share, 4.0 / 6.0);
  // Extension A and compatibility ideographs are CJK.
  m = language_mix("\xe3\x90\x80\xef\xa4\x80");  // U+3400, U+F900
  EXPECT_EQ(m.cjk_share, 1.0);
  // Invalid UTF-8 is skipped: stray continuation, truncated sequence, overlong, surrogate.
  m = language_mix("ab\x80\xbf\xe4\xb8 \xc0\xaf \xed\xa0\x80 \xe4\xb8\xad\xe6\x96\x87");
  EXPECT_DOUBLE_EQ(m.latin_share, 0.5);
  EXPECT_DOUBLE_EQ(m.cjk_share, 0.5);
  EXPECT_TRUE(m.mixed);
}

// ---- aha ---------------------------------------------------------------------------------

std::vector<std::string> span_texts(const std::string& text, const std::vector<AhaSpan>& spans,
                                    const std::string& kind) {
  std::vector<std::string> out;
  for (const AhaSpan& s : spans) {
    EXPECT_LE(s.begin, s.end);
    EXPECT_LE(s.end, text.size());
    if (s.kind == kind) out.push_back(text.substr(s.begin, s.end - s.begin));
  }
  return out;
}

TEST(Rewards, DefaultAhaKeywords) {
  const auto& k = default_aha_keywords();
  for (const std::string w : {"wait", "mistake", "however", "retry", "verify", "wrong", "check", "error", "recheck",
                              "rethink", "reevaluate", "re-evaluate", "double-check", "let me check", "try again",
                              "等等", "等一下", "检查", "再检查", "错了", "不对", "重新", "验证"})
    EXPECT_NE(std::find(k.begin(), k.end(), w), k.end()) << w;
}

TEST(Rewards, AhaKeywordsEnglish) {
  const std::string t = "Wait, that is WRONG. Let me check: a mistake? However I'll double-check and retry.";
  const auto spans = aha_spans(t);
  EXPECT_EQ(span_texts(t, spans, "keyword"),
            (std::vector<std::string>{"Wait", "WRONG", "Let me check", "mistake", "However", "double-check", "retry"}));
  ASSERT_FALSE(spans.empty());
  EXPECT_EQ(spans[0].begin, 0u);
  EXPECT_EQ(spans[0].end, 4u);
  EXPECT_EQ(spans[0].kind, "keyword");
  // Whole words only.
  const std::string neg = "Save a checkpoint; the weight is 5; waiting; rechecked; errors; verifying; awaited";
  EXPECT_TRUE(span_texts(neg, aha_spans(neg), "keyword").empty());
  // Word boundaries by punctuation and line ends; spans in byte order.
  const std::string t2 = "(wait)\nCheck.\nre-evaluate\nTry again";
  EXPECT_EQ(span_texts(t2, aha_spans(t2), "keyword"),
            (std::vector<std::string>{"wait", "Check", "re-evaluate", "Try again"}));
  // "recheck" is its own keyword, and "check" inside it is not matched separately.
  const std::string t3 = "Let me recheck.";
  const auto s3 = aha_spans(t3);
  ASSERT_EQ(s3.size(), 1u);
  EXPECT_EQ(t3.substr(s3[0].begin, s3[0].end - s3[0].begin), "recheck");
}

TEST(Rewards, AhaKeywordsChinese) {
  const std::string t = "二十五乘三等于八十五。等等，再检查一下：不对，是七十五。重新验证：七十五加四。";
  const auto spans = aha_spans(t);
  EXPECT_EQ(span_texts(t, spans, "keyword"), (std::vector<std::string>{"等等", "再检查", "不对", "重新", "验证"}));
  const size_t at = t.find("等等");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(spans[0].begin, at);
  EXPECT_EQ(spans[0].end, at + 6);  // two 3-byte characters
  // Chinese without reflection.
  const std::string neg = "二十五乘三等于七十五，加四等于七十九。";
  EXPECT_TRUE(aha_spans(neg).empty());
  // Mixed English and Chinese.
  const std::string mix = "等一下, wait: 错了";
  EXPECT_EQ(span_texts(mix, aha_spans(mix), "keyword"), (std::vector<std::string>{"等一下", "wait", "错了"}));
}

TEST(Rewards, AhaCustomKeywords) {
  const std::string t = "Hmm, actually no. ACTUALLY yes. factually";
  const auto spans = aha_spans(t, {"actually", "", "hmm"});
  EXPECT_EQ(span_texts(t, spans, "keyword"), (std::vector<std::string>{"Hmm", "actually", "ACTUALLY"}));
  EXPECT_TRUE(aha_spans("wait", {}).empty());
}

TEST(Rewards, AhaRevision) {
  const std::string t = "25 * 3 = 85, 85 + 4 = 89. Wait, let me recheck: 25 * 3 = 75, so 75 + 4 = 79.";
  const auto spans = aha_spans(t);
  EXPECT_EQ(span_texts(t, spans, "revision"), (std::vector<std::string>{"25 * 3 = 75"}));
  const size_t at = t.find("25 * 3 = 75");
  bool found = false;
  for (const auto& s : spans)
    if (s.kind == "revision") {
      EXPECT_EQ(s.begin, at);
      EXPECT_EQ(s.end, at + 11);
      found = true;
    }
  EXPECT_TRUE(found);
  // Spans are ordered by begin.
  for (size_t i = 1; i < spans.size(); ++i) EXPECT_LE(spans[i - 1].begin, spans[i].begin);
  // Spacing and × are normalised; prose words before the expression are dropped.
  const std::string t2 = "so 3×4 = 13. then 3 * 4 = 12.";
  EXPECT_EQ(span_texts(t2, aha_spans(t2), "revision"), (std::vector<std::string>{"3 * 4 = 12"}));
  const std::string t2b = "so 13 then 2.5 * 2 = 6. Hmm: 2.5*2 = 5.";
  EXPECT_EQ(span_texts(t2b, aha_spans(t2b), "revision"), (std::vector<std::string>{"2.5*2 = 5"}));
  // A variable restated with another value.
  const std::string t3 = "x = 4\nbut checking, x = 5";
  EXPECT_EQ(span_texts(t3, aha_spans(t3), "revision"), (std::vector<std::string>{"x = 5"}));
  // Fractions and decimals.
  const std::string t4 = "7 / 2 = 3.5, and 7 / 2 = 7/2 again; 7 / 2 = 4";
  EXPECT_EQ(span_texts(t4, aha_spans(t4), "revision"), (std::vector<std::string>{"7 / 2 = 4"}));
  // Chinese trace.
  const std::string t5 = "二十五乘三：25 * 3 = 85。等等，再检查：25 * 3 = 75。";
  EXPECT_EQ(span_texts(t5, aha_spans(t5), "revision"), (std::vector<std::string>{"25 * 3 = 75"}));
}

TEST(Rewards, AhaRevisionNegatives) {
  // The same value restated: no revision.
  std::string t = "25 * 3 = 75. Again 25 * 3 = 75.";
  EXPECT_TRUE(span_texts(t, aha_spans(t), "revision").empty());
  // Different expressions with different values: no revision.
  t = "25 * 3 = 75, 25 * 4 = 100, 25 + 3 = 28";
  EXPECT_TRUE(span_texts(t, aha_spans(t), "revision").empty());
  // Plain numbers, comparisons and unfinished right-hand sides are not statements.
  t = "75 = 75, 75 = 76, a == 1, a == 2, b <= 3, b <= 4, x = 3 + 4, x = 7, y = z, y = 2";
  EXPECT_TRUE(span_texts(t, aha_spans(t), "revision").empty());
  // Chained equations: "25 * 3 = 75 + 4 = 79" then "75 + 4 = 80" revises the second link.
  t = "25 * 3 = 75 + 4 = 79; 75 + 4 = 80";
  EXPECT_EQ(span_texts(t, aha_spans(t), "revision"), (std::vector<std::string>{"75 + 4 = 80"}));
  EXPECT_TRUE(aha_spans("").empty());
  EXPECT_TRUE(aha_spans("=").empty());
  EXPECT_TRUE(aha_spans("= = =1 =-").empty());
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {

// The tasks' self-corrected worked solutions ("Wait, let me recheck: ..." / "等等，再检查一下：")
// are what the detector is for: each shows a keyword and a revision; clean ones show neither.
TEST(Rewards, AhaOnTaskSolutions) {
  for (const std::string& name : task_names()) {
    const Task& task = task_by_name(name);
    for (const std::string lang : {"en", "zh"}) {
      int revisions = 0, n = 0;
      for (uint64_t seed = 1; seed <= 30; ++seed) {
        Rng rng(seed);
        const Problem p = task.generate(rng, 1 + int(seed % 3));
        TraceStyle style;
        style.language = lang;
        const std::string clean = task.solution(p, style, rng);
        EXPECT_TRUE(aha_spans(clean).empty()) << clean;
        EXPECT_EQ(format_reward(clean).value, 1.0) << clean;
        EXPECT_EQ(accuracy_reward(p, clean).value, 1.0) << clean;
        style.self_correction = 1.0;
        const std::string fixed = task.solution(p, style, rng);
        const auto spans = aha_spans(fixed);
        if (fixed.find(lang == "en" ? "recheck" : "等等") == std::string::npos) continue;  // no eligible step
        ++n;
        EXPECT_FALSE(span_texts(fixed, spans, "keyword").empty()) << fixed;
        if (!span_texts(fixed, spans, "revision").empty()) ++revisions;
        else ADD_FAILURE() << "no revision found in: " << fixed;
        const LanguageMix m = language_mix(parse_completion(fixed).think);
        EXPECT_FALSE(m.mixed) << fixed;
      }
      EXPECT_GT(n, 0) << name << " " << lang;
    }
  }
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {
TEST(LanguageMix, OffTargetMeansLeavingThePromptsLanguage) {
  // a purely Chinese chain of thought is not a code switch, but it has left an English prompt
  const LanguageMix zh = language_mix("个位：8 + 7 = 15，写 5 进 1。");
  EXPECT_FALSE(zh.mixed);
  EXPECT_TRUE(zh.off_target("en"));
  EXPECT_FALSE(zh.off_target("zh"));
  const LanguageMix en = language_mix("Ones: 8 + 7 = 15, write 5 carry 1.");
  EXPECT_FALSE(en.off_target("en"));
  EXPECT_TRUE(en.off_target("zh"));
  const LanguageMix both = language_mix("Ones: 8 + 7 = 15，写 5 进 1.");
  EXPECT_TRUE(both.mixed);
  EXPECT_TRUE(both.off_target("en"));
  EXPECT_FALSE(language_mix("12 + 7 = 19").off_target("en"));  // no letters at all
}

// The spans the studio highlights: the letters off_target() counted, as byte ranges.
std::vector<std::string> off_target_texts(const std::string& text, const std::string& target) {
  std::vector<std::string> out;
  for (const ByteSpan& sp : off_target_spans(text, target)) out.push_back(text.substr(sp.begin, sp.end - sp.begin));
  return out;
}

TEST(LanguageMix, OffTargetSpans) {
  using V = std::vector<std::string>;
  // neither-script characters between CJK letters join them; an English word splits them
  EXPECT_EQ(off_target_texts("Ones: 8 + 7 = 15，写 5 进 1. then 等等，再检查一下 ok", "en"),
            (V{"写 5 进", "等等，再检查一下"}));
  EXPECT_EQ(off_target_texts("Ones: 8 + 7 = 15，写 5 进 1. then 等等", "zh"), (V{"Ones", "then"}));
  // a lone Latin letter is a math symbol: it neither splits a Chinese span nor counts for "zh"
  EXPECT_EQ(off_target_texts("两边除以 2：x = 5。所以", "en"), (V{"两边除以 2：x = 5。所以"}));
  EXPECT_TRUE(off_target_texts("两边除以 2：x = 5", "zh").empty());
  // spans exist exactly when language_mix says the text left its target
  for (const std::string t : {"12 + 7 = 19", "First, multiply.", "先 then", "", "\xe4\xb8"}) {
    EXPECT_EQ(!off_target_spans(t, "en").empty(), language_mix(t).off_target("en")) << t;
    EXPECT_EQ(!off_target_spans(t, "zh").empty(), language_mix(t).off_target("zh")) << t;
  }
  // invalid bytes are skipped, byte offsets stay those of the original string
  const std::string bad = "ab\x80中";
  const auto sp = off_target_spans(bad, "en");
  ASSERT_EQ(sp.size(), 1u);
  EXPECT_EQ(sp[0].begin, 3u);
  EXPECT_EQ(sp[0].end, 6u);
  EXPECT_TRUE(off_target_spans("中文", "fr").empty());
}
}  // namespace
}  // namespace aha
