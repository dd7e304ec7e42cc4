// The inspector's highlight spans on hand-written completions (pure string logic): tags
// and bodies, Chinese code-switches inside English reasoning, the engine's UTF-8 byte
// offsets mapped to Qt's UTF-16 indices with CJK and emoji before them, and completions
// that are malformed, empty or carry invalid offsets.
#include <QtTest>
#include <string>

#include "views/models/trace_markup.h"

using namespace aha::studio;

namespace {
QStringList texts(const TraceMarkup& m, SpanKind k) {
  QStringList out;
  for (const MarkupSpan& s : m.of(k)) out << m.text.mid(s.begin, s.end - s.begin);
  return out;
}
std::string aha_json(const std::string& s, const std::string& word) {
  const size_t b = s.find(word);
  return "[[" + std::to_string(b) + "," + std::to_string(b + word.size()) + ",\"keyword\"]]";
}
}  // namespace

class TestTraceMarkup : public QObject {
  Q_OBJECT
 private slots:
  void wellFormedEnglish() {
    const std::string s = "<think> 25 * 3 = 75, plus 4 is 79 </think> <answer>79</answer>";
    const TraceMarkup m = mark_up_trace(s, "[]");
    QCOMPARE(m.text, QString::fromStdString(s));
    QCOMPARE(texts(m, SpanKind::Think), QStringList{" 25 * 3 = 75, plus 4 is 79 "});
    QCOMPARE(texts(m, SpanKind::Answer), QStringList{"79"});
    QCOMPARE(texts(m, SpanKind::ThinkTag), (QStringList{"<think>", "</think>"}));
    QCOMPARE(texts(m, SpanKind::AnswerTag), (QStringList{"<answer>", "</answer>"}));
    QCOMPARE(m.of(SpanKind::ThinkTag).front().begin, 0);
    QVERIFY(!m.has(SpanKind::MixedLanguage));
    QVERIFY(!m.has(SpanKind::Aha));
    // painting order: bodies, then tags, then mixed language, then aha
    for (int i = 1; i < m.spans.size(); i++) QVERIFY(m.spans[i - 1].kind <= m.spans[i].kind);
  }

  void chineseCodeSwitchIsOneSpanPerRun() {
    const std::string s =
        "<think>First 25 * 3 = 75. 等等，再检查一下 then 个位 5 进 1 done</think><answer>75 好</answer>";
    const TraceMarkup m = mark_up_trace(s, "[]");
    // punctuation and digits inside a Chinese run stay in it; English words split runs;
    // the answer's Chinese is not reasoning
    QCOMPARE(texts(m, SpanKind::MixedLanguage), (QStringList{"等等，再检查一下", "个位 5 进"}));
    // without <think>, the whole text is the reasoning (as the engine measures it)
    QCOMPARE(texts(mark_up_trace("ok 好的 ok", "[]"), SpanKind::MixedLanguage), QStringList{"好的"});
    // a purely Chinese chain of thought has left English too
    QCOMPARE(texts(mark_up_trace("<think>先算乘法</think>", "[]"), SpanKind::MixedLanguage), QStringList{"先算乘法"});
  }

  void ahaByteOffsetsAfterCjkAndEmoji() {
    // 3-byte CJK (1 UTF-16 unit) and a 4-byte emoji (2 units) before the aha keyword
    const std::string s = "<think>先算 \xF0\x9F\x98\x80 25 * 3 = 76. Wait, 25 * 3 = 75.</think><answer>75</answer>";
    const TraceMarkup m = mark_up_trace(s, aha_json(s, "Wait"));
    QCOMPARE(texts(m, SpanKind::Aha), QStringList{"Wait"});
    QCOMPARE(m.of(SpanKind::Aha).front().detail, QString("keyword"));
    QCOMPARE(m.of(SpanKind::Aha).front().begin, int(m.text.indexOf("Wait")));
    // a Chinese aha keyword: 6 bytes, 2 units
    const std::string z = "<think>25 * 3 = 76，等等，是 75</think>";
    QCOMPARE(texts(mark_up_trace(z, aha_json(z, "等等")), SpanKind::Aha), QStringList{"等等"});
    // the live path runs the engine's detector and must agree with the stored offsets
    QVERIFY(texts(mark_up_live(QString::fromStdString(s)), SpanKind::Aha).contains("Wait"));
    // an offset inside a character widens to the whole character
    const size_t b = z.find("等等");
    const std::string inside = "[[" + std::to_string(b + 1) + "," + std::to_string(b + 4) + "]]";
    QCOMPARE(texts(mark_up_trace(z, inside), SpanKind::Aha), QStringList{"等等"});
  }

  void invalidOffsetsAndJsonAreIgnored() {
    const std::string s = "<think>wait</think>";
    for (const char* j : {"[[5,2]]", "[[0,9999]]", "[[-1,3]]", "[[1.5,3]]", "nonsense", "", "{\"a\":1}", "[[1]]",
                          "[[\"1\",\"2\"]]", "[[3,3]]"})
      QVERIFY2(!mark_up_trace(s, j).has(SpanKind::Aha), j);
    QCOMPARE(texts(mark_up_trace(s, "[[7,11]]"), SpanKind::Aha), QStringList{"wait"});
  }

  void invalidUtf8KeepsOffsetsAligned() {
    const std::string s = std::string("ab\x80") + "中 wait";
    const TraceMarkup m = mark_up_trace(s, aha_json(s, "wait"));
    QCOMPARE(m.text, QString("ab") + QChar(QChar::ReplacementCharacter) + QString::fromUtf8("中 wait"));
    QCOMPARE(texts(m, SpanKind::Aha), QStringList{"wait"});
    QCOMPARE(texts(m, SpanKind::MixedLanguage), QStringList{QString::fromUtf8("中")});
  }

  void malformedCompletions() {
    QVERIFY(mark_up_trace("", "[]").spans.isEmpty());
    QVERIFY(mark_up_trace("", "[]").text.isEmpty());
    QVERIFY(mark_up_trace("no tags at all", "[]").spans.isEmpty());
    // unclosed <think> (truncated, or still generating): the reasoning runs to the end
    QCOMPARE(texts(mark_up_trace("<think>still going", "[]"), SpanKind::Think), QStringList{"still going"});
    QVERIFY(!mark_up_trace("<think>still going", "[]").has(SpanKind::Answer));
    // nested and repeated tags: every tag marked, bodies follow the engine's parse rules
    const TraceMarkup n = mark_up_trace("<think><think>x</think></think><answer>1</answer><answer>2</answer>", "[]");
    QCOMPARE(n.of(SpanKind::ThinkTag).size(), 4);
    QCOMPARE(n.of(SpanKind::AnswerTag).size(), 4);
    QCOMPARE(texts(n, SpanKind::Think), QStringList{"<think>x"});
    QCOMPARE(texts(n, SpanKind::Answer), QStringList{"2"});  // the last closed pair
    QCOMPARE(texts(mark_up_trace("<answer><answer>5</answer></answer>", "[]"), SpanKind::Answer), QStringList{"5"});
    // closing before opening: no bodies, only the tags
    const TraceMarkup r = mark_up_trace("</answer> x <answer>", "[]");
    QCOMPARE(r.of(SpanKind::AnswerTag).size(), 2);
    QVERIFY(!r.has(SpanKind::Answer));  // the only <answer> opens at the very end
    // empty blocks give no body spans
    QVERIFY(!mark_up_trace("<think></think><answer></answer>", "[]").has(SpanKind::Think));
    QVERIFY(!mark_up_trace("<think></think><answer></answer>", "[]").has(SpanKind::Answer));
    // a huge completion does not hang
    const std::string big = "<think>" + std::string(200000, 'a') + "</think>";
    QCOMPARE(mark_up_trace(big, "[]").of(SpanKind::Think).front().end, 200007);
  }
};

QTEST_GUILESS_MAIN(TestTraceMarkup)
#include "test_trace_markup.moc"
