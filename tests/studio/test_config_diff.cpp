// The config difference table of the fixture's two runs: run-b was started with
// --set train.seed=99 --set name=studio-fixture-b --set grpo.temperature=0.7 --tag seed99,
// so exactly those four keys differ.
#include <QAbstractItemModelTester>
#include <QtTest>

#include "engine/store.h"
#include "views/models/config_diff.h"

using namespace aha::studio;

namespace {
QString config_of(const char* run) {
  return QString::fromStdString(
      aha::RunStoreReader::open_checked(std::string(AHA_STUDIO_FIXTURE) + "/" + run, false, false).summary().config_toml);
}
}  // namespace

class TestConfigDiff : public QObject {
  Q_OBJECT
 private slots:
  void exactlyTheKeysThatDiffer() {
    ConfigDiffModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const QString a = config_of("run-a"), b = config_of("run-b");
    m.setConfigs({"run-a", "run-b"}, {a, b});
    QStringList keys = m.keys();
    keys.sort();
    QCOMPARE(keys, (QStringList{"grpo.temperature", "name", "tags", "train.seed"}));
    QCOMPARE(m.rowCount(), 4);
    QCOMPARE(m.columnCount(), 3);
    QCOMPARE(m.headerData(1, Qt::Horizontal).toString(), QStringLiteral("run-a"));
    QVERIFY(m.errors() == QStringList({QString(), QString()}));
    for (int r = 0; r < m.rowCount(); r++) {
      const QString key = m.index(r, 0).data().toString();
      const QString va = m.index(r, 1).data().toString(), vb = m.index(r, 2).data().toString();
      QVERIFY2(va != vb, qPrintable(key));
      if (key == "train.seed") QCOMPARE(vb, QStringLiteral("99"));
      if (key == "grpo.temperature") QCOMPARE(vb.toDouble(), 0.7);
      if (key == "name") QCOMPARE(vb, QStringLiteral("\"studio-fixture-b\""));
      if (key == "tags") QVERIFY(vb.contains("seed99") && !va.contains("seed99"));
    }
  }
  void aRunAgainstItselfHasNoDifferences() {
    ConfigDiffModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const QString a = config_of("run-a");
    m.setConfigs({"x", "y", "z"}, {a, a, a});
    QCOMPARE(m.rowCount(), 0);
    QCOMPARE(m.columnCount(), 4);
  }
  void threeRunsAndABrokenConfig() {
    ConfigDiffModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const QString a = config_of("run-a"), b = config_of("run-b");
    m.setConfigs({"a", "b", "broken"}, {a, b, "[train]\nseed = \"not a number\"\n"});
    QVERIFY(m.errors()[0].isEmpty());
    QVERIFY(!m.errors()[2].isEmpty());
    // the broken run's column holds "(unset)" for every key, so every key differs
    QVERIFY(m.rowCount() > 4);
    QCOMPARE(m.index(0, 3).data().toString(), QStringLiteral("(unset)"));
  }
};

QTEST_GUILESS_MAIN(TestConfigDiff)
#include "test_config_diff.moc"
