// Word diff on hand-written strings (pure logic): tokens, CJK characters as words, and
// the property that matters — the segments give back both texts exactly.
#include <QtTest>

#include "views/models/word_diff.h"

using namespace aha::studio;

namespace {
QString render(const DiffSegments& d) {
  QString s;
  for (const auto& x : d) s += (x.kind == DiffSegment::Equal ? "=" : x.kind == DiffSegment::Added ? "+" : "-") + x.text + "|";
  return s;
}
}  // namespace

class TestWordDiff : public QObject {
  Q_OBJECT
 private slots:
  void tokensAreWordsSpacesAndSinglePunctuation() {
    QCOMPARE(diff_tokens("x = 12+3,  done."),
             (QStringList{"x", " ", "=", " ", "12", "+", "3", ",", "  ", "done", "."}));
    QCOMPARE(diff_tokens("我们先算3加4。"), (QStringList{"我", "们", "先", "算", "3", "加", "4", "。"}));
    QCOMPARE(diff_tokens(""), QStringList());
  }
  void aChangedWordIsRemovedThenAdded() {
    const auto d = word_diff("the answer is 7 so", "the answer is 12 so");
    QCOMPARE(render(d), QStringLiteral("=the answer is |-7|+12|= so|"));
  }
  void insertionsAndDeletions() {
    const auto d = word_diff("a b c d", "a c d e");
    QCOMPARE(diff_before(d), QStringLiteral("a b c d"));
    QCOMPARE(diff_after(d), QStringLiteral("a c d e"));
    QCOMPARE(render(d), QStringLiteral("=a |-b |=c d|+ e|"));
  }
  void chineseCharactersAreWords() {
    const auto d = word_diff("我们先算三加四", "我们再算三加五");
    QCOMPARE(render(d), QStringLiteral("=我们|-先|+再|=算三加|-四|+五|"));
  }
  void identicalAndEmptyTexts() {
    QCOMPARE(render(word_diff("same text", "same text")), QStringLiteral("=same text|"));
    QCOMPARE(render(word_diff("", "new")), QStringLiteral("+new|"));
    QCOMPARE(render(word_diff("old", "")), QStringLiteral("-old|"));
    QVERIFY(word_diff("", "").isEmpty());
  }
  void segmentsReproduceBothTexts_data() {
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::newRow("reasoning") << "<think>3 + 4 = 7. Wait, 3 * 4 = 12.</think><answer>12</answer>"
                               << "<think>3 * 4 is 12, so</think> <answer>12</answer>";
    QTest::newRow("mixed language") << "Let me compute 我们先算 3 加 4 等于 7" << "我们先算 3 乘 4 等于 12, let me check";
    QTest::newRow("whitespace only") << "a  b\n\nc" << "a b\nc ";
    QTest::newRow("disjoint") << "alpha beta gamma" << "1 2 3 4 5";
  }
  void segmentsReproduceBothTexts() {
    QFETCH(QString, a);
    QFETCH(QString, b);
    const auto d = word_diff(a, b);
    QCOMPARE(diff_before(d), a);
    QCOMPARE(diff_after(d), b);
    for (int i = 1; i < d.size(); i++) QVERIFY(d[i].kind != d[i - 1].kind);  // adjacent kinds merged
  }
  void pastTheEditLimitTheMiddleIsReplacedExactly() {
    QString a, b;
    for (int i = 0; i < 300; i++) a += QString("w%1 ").arg(i), b += QString("v%1 ").arg(i);
    const auto d = word_diff("head " + a + "tail", "head " + b + "tail", 50);
    QCOMPARE(diff_before(d), "head " + a + "tail");
    QCOMPARE(diff_after(d), "head " + b + "tail");
    QCOMPARE(d.size(), 4);  // head, removed middle, added middle, tail
    QCOMPARE(d[1].kind, DiffSegment::Removed);
  }
};

QTEST_GUILESS_MAIN(TestWordDiff)
#include "test_word_diff.moc"
