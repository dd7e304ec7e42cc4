// Smoothing and the run-wide axes, on hand-written inputs (pure logic), plus the axes
// of the fixture run as the store reports them.
#include <QtTest>
#include <cmath>

#include "engine/store.h"
#include "views/models/series_math.h"

using namespace aha::studio;

class TestSeriesMath : public QObject {
  Q_OBJECT
 private slots:
  void emaOfAConstantSeriesIsThatConstant() {
    const std::vector<double> v(50, 3.25);
    for (double w : {0.0, 0.5, 0.9, 0.999}) {
      const auto s = ema_smooth(v, w);
      for (double x : s) QCOMPARE(x, 3.25);
    }
  }
  void emaIsDebiasedNotPulledToZeroOrToTheFirstValue() {
    // by hand, w = 0.5: last = 0.5·last + 0.5·v, divided by 1 − 0.5^n
    const auto s = ema_smooth({2, 4, 8}, 0.5);
    QCOMPARE(s[0], 2.0);                       // 1 / 0.5 · 0.5·2
    QCOMPARE(s[1], (0.5 * 1 + 0.5 * 4) / 0.75);  // (0.5 + 2) / 0.75 = 3.333…
    QCOMPARE(s[2], (0.5 * 2.5 + 0.5 * 8) / 0.875);
    // an undebiased EMA would start at (1−w)·v = 1.0 for v = 2; a first-value-seeded one
    // would give s[1] = 0.5·2 + 0.5·4 = 3
    QVERIFY(std::abs(s[1] - 3.0) > 0.3);
  }
  void weightZeroIsTheRawSeriesAndWeightIsClamped() {
    const std::vector<double> v{1, -7, 3.5, 1e6};
    QCOMPARE(ema_smooth(v, 0.0), v);
    QCOMPARE(ema_smooth(v, -3.0), v);
    // weight 1 would freeze the curve at the first value; it is clamped to 0.999
    const auto s = ema_smooth(v, 1.0);
    QCOMPARE(s, ema_smooth(v, kMaxEmaWeight));
    QVERIFY(s[3] != s[0]);
  }
  void aNanIsPassedThroughAndNotAccumulated() {
    const auto s = ema_smooth({1, NAN, 1}, 0.9);
    QCOMPARE(s[0], 1.0);
    QVERIFY(std::isnan(s[1]));
    QCOMPARE(s[2], 1.0);
  }
  void aBucketOfNPointsCountsAsNPoints() {
    // 3 points of 1 then 2 points of 5 == buckets (mean 1, n 3), (mean 5, n 2)
    const auto pts = ema_smooth({1, 1, 1, 5, 5}, 0.7);
    const auto bks = ema_smooth_buckets({1, 5}, {3, 2}, 0.7);
    QCOMPARE(bks.size(), size_t(2));
    QVERIFY(std::abs(bks[0] - pts[2]) < 1e-12);
    QVERIFY(std::abs(bks[1] - pts[4]) < 1e-12);
  }
  void stagesAreLaidEndToEnd() {
    const RunAxis a = RunAxis::from_stage_ends({{"pretrain", 24, 6144, 0, 0}, {"sft", 3, 900, 0, 0}, {"grpo", 4, 320, 0, 0}});
    QCOMPARE(a.run_step("pretrain", 24), int64_t(24));
    QCOMPARE(a.run_step("sft", 1), int64_t(25));
    QCOMPARE(a.run_step("grpo", 4), int64_t(31));
    QCOMPARE(a.run_tokens("grpo", 20), int64_t(6144 + 900 + 20));
    QCOMPARE(a.x(XAxis::Wall, "grpo", 4, 20, 12.5), 12.5);
    // an unknown stage goes after every known one
    QCOMPARE(a.run_step("eval-later", 2), int64_t(31 + 2));
  }
  void liveGrowthExtendsTheLastStageAndAddsNewOnes() {
    RunAxis a;
    QVERIFY(a.extend("pretrain", 0, 0));
    QVERIFY(a.extend("pretrain", 10, 1000));
    QVERIFY(a.extend("sft", 0, 0));
    QVERIFY(a.extend("sft", 2, 50));
    QCOMPARE(a.run_step("sft", 2), int64_t(12));
    QCOMPARE(a.run_tokens("sft", 50), int64_t(1050));
    const RunAxis before = a;
    QVERIFY2(a.extend("pretrain", 9, 900), "a point inside the stage moves nothing");
    QVERIFY(a.agrees_with(before));
    QVERIFY2(!a.extend("pretrain", 11, 1100), "pretrain growing would move sft: reload");
    const RunAxis other = RunAxis::from_stage_ends({{"pretrain", 11, 1100, 0, 0}, {"sft", 2, 50, 0, 0}});
    QVERIFY(!other.agrees_with(before));
  }
  void theFixtureRunsAxisMatchesItsStages() {
    const auto r = aha::RunStoreReader::open_checked(AHA_STUDIO_FIXTURE "/run-a", false, false);
    const RunAxis a(r.stage_steps());
    QCOMPARE(a.stages().size(), size_t(3));
    QCOMPARE(QString::fromStdString(a.stages()[0].name), QStringLiteral("pretrain"));
    QCOMPARE(a.stages()[0].last_step, int64_t(24));  // fixture.toml: train.steps = 24
    QCOMPARE(a.stages()[1].step_offset, int64_t(24));
    QCOMPARE(a.stages()[1].last_step, int64_t(3));   // sft.steps = 3
    QCOMPARE(a.stages()[2].step_offset, int64_t(27));
    // the last GRPO reward on the run-wide axis is at step 27 + 4 = 31
    const auto b = r.decimate("reward", "run_step", 30.5, 31.5, 1);
    QCOMPARE(b.size(), size_t(1));
    QCOMPARE(b[0].x_min, 31.0);
  }
};

QTEST_GUILESS_MAIN(TestSeriesMath)
#include "test_series_math.moc"
