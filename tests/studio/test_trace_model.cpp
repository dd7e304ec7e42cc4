// The trace table on the fixture run's real GRPO traces: QAbstractItemModelTester on the
// model and on its filter, rows equal to the store's own, every filter's count equal to a
// count made with the engine's functions on the store's rows, full-text search hits that
// contain what was searched, and a bad query that is an error, not a crash.
#include <QAbstractItemModelTester>
#include <QtTest>
#include <algorithm>
#include <map>

#include "engine/rewards.h"
#include "engine/store.h"
#include "views/models/trace_model.h"

using namespace aha;
using namespace aha::studio;

namespace {
const QString kRunA = QStringLiteral(AHA_STUDIO_FIXTURE "/run-a");

RunStoreReader reader() { return RunStoreReader::open_checked(kRunA.toStdString(), false, false); }

// The engine's own definition of mixed language (stage_grpo's language_mix_rate).
bool engine_mixed(const TraceRow& r) {
  const ParsedCompletion pc = parse_completion(r.completion);
  return language_mix(pc.think.empty() ? r.completion : pc.think).off_target("en");
}
}  // namespace

class TestTraceModel : public QObject {
  Q_OBJECT
 private slots:
  void loadsAGrpoStepAsTheStoreHasIt() {
    const auto steps = reader().trace_steps();
    QVERIFY(!steps.empty());
    const auto& [stage, step] = steps.back();
    QCOMPARE(stage, std::string("grpo"));
    const auto rows = reader().traces(step, stage);
    int train = 0;
    for (const auto& r : rows) train += r.split == "train";
    QCOMPARE(train, 2 * 4);                        // fixture.toml: 2 prompts x 4 completions per step
    QCOMPARE(int(rows.size()) - train, 2);         // and grpo.eval_problems greedy held-out answers

    TraceModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(m.loadStep(kRunA, "grpo", step), QString());
    QCOMPARE(m.rowCount(), int(rows.size()));
    std::map<std::pair<std::string, int64_t>, int> per_group;  // (split, group)
    for (int i = 0; i < m.rowCount(); i++) {
      const TraceRow r = m.index(i, 0).data(TraceModel::TraceRowRole).value<TraceRow>();
      QCOMPARE(m.index(i, 0).data(TraceModel::TraceIdRole).toLongLong(), r.id);
      const auto it = std::find_if(rows.begin(), rows.end(), [&](const TraceRow& s) { return s.id == r.id; });
      QVERIFY(it != rows.end());
      QCOMPARE(r.completion, it->completion);
      QCOMPARE(m.index(i, m.column(TraceModel::Step)).data().toLongLong(), step);
      QCOMPARE(m.index(i, m.column(TraceModel::Accuracy)).data().toString(),
               QString::number(it->rewards.at("accuracy"), 'f', 3));
      QCOMPARE(m.index(i, m.column(TraceModel::Truncated)).data().toString(),
               QString(it->truncated ? "yes" : "no"));
      // samples count 0, 1, 2, ... within each group, in recording order
      QCOMPARE(m.index(i, m.column(TraceModel::Sample)).data().toInt(), per_group[std::make_pair(r.split, r.group_id)]++);
    }
    // GRPO groups of G = 4 samples; the held-out problems answered once each
    for (const auto& [g, n] : per_group) QCOMPARE(n, g.first == "train" ? 4 : 1);
    // the GRPO stage also recorded a "language" reward: it gets its own column
    QVERIFY(m.rewardNames().contains("language"));
    bool language_column = false;
    for (int c = 0; c < m.columnCount(); c++)
      language_column |= m.columnField(c) == TraceModel::ExtraReward && m.rewardOfColumn(c) == "language";
    QVERIFY(language_column);
    QCOMPARE(m.headerData(m.column(TraceModel::Preview), Qt::Horizontal).toString(), QString("Completion"));
  }

  void filtersCountWhatTheStoreSays() {
    TraceModel m;
    TraceFilterModel f;
    f.setSourceModel(&m);
    QAbstractItemModelTester tester(&f, QAbstractItemModelTester::FailureReportingMode::QtTest);
    using F = TraceFilterModel;
    int total = 0, truncated_total = 0, narrowed = 0, stored = 0;
    for (const auto& [stage, step] : reader().trace_steps()) {
      const auto rows = reader().traces(step, stage);
      stored += int(rows.size());
      QCOMPARE(m.loadStep(kRunA, QString::fromStdString(stage), step), QString());
      std::map<int, int> want;  // filter flags → expected rows
      for (const TraceRow& r : rows) {
        const auto acc = r.rewards.find("accuracy");
        const bool correct = acc != r.rewards.end() && acc->second > 0.5;
        const bool wrong = acc != r.rewards.end() && !correct;
        want[0]++;
        want[F::Correct] += correct;
        want[F::Wrong] += wrong;
        want[F::Correct | F::Wrong]++;
        want[F::AhaOnly] += r.aha_spans_json != "[]";
        want[F::MixedOnly] += engine_mixed(r);
        want[F::TruncatedOnly] += r.truncated;
        want[F::Wrong | F::TruncatedOnly] += wrong && r.truncated;
        truncated_total += r.truncated;
      }
      total += int(rows.size());
      for (const auto& [flags, n] : want) {
        f.setFilters(F::Filters(flags));
        QVERIFY2(f.rowCount() == n, qPrintable(QString("step %1 filters %2: %3 rows, store says %4")
                                                   .arg(step).arg(flags).arg(f.rowCount()).arg(n)));
        if (f.rowCount() < m.rowCount()) narrowed++;
        for (int i = 0; i < f.rowCount(); i++) {  // and they are the right rows
          const TraceEntry* e = m.entry(f.mapToSource(f.index(i, 0)).row());
          if (flags & F::TruncatedOnly) QVERIFY(e->row.truncated);
          if (flags & F::MixedOnly) QVERIFY(engine_mixed(e->row) && e->row.language_share < 1.0);
        }
      }
      f.setFilters({});
    }
    QCOMPARE(total, stored);
    QVERIFY(total >= 4 * 8);  // at least the 4 GRPO steps' 8 samples
    // the fixture has both truncated and complete traces, so the filters really cut
    QVERIFY(truncated_total > 0 && truncated_total < total);
    QVERIFY(narrowed > 0);
  }

  void searchFindsRowsContainingTheWords() {
    std::vector<TraceRow> all;
    for (const auto& [stage, step] : reader().trace_steps())
      for (const TraceRow& r : reader().traces(step, stage)) all.push_back(r);
    TraceModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(m.search(kRunA, "prompt:\"Compute 6\"", 1000), QString());
    const int expected = int(std::count_if(all.begin(), all.end(), [](const TraceRow& r) {
      return r.prompt.find("Compute 6 ") != std::string::npos;
    }));
    QVERIFY(expected > 0 && expected < int(all.size()));
    QCOMPARE(m.rowCount(), expected);
    for (int i = 0; i < m.rowCount(); i++) {
      QVERIFY(m.entry(i)->row.prompt.find("Compute 6 ") != std::string::npos);
      QCOMPARE(m.index(i, m.column(TraceModel::Sample)).data().toString(), QString("–"));  // not a whole step
    }
    // a word of the completions: every hit has it
    QCOMPARE(m.search(kRunA, "completion:think", 1000), QString());
    QVERIFY(m.rowCount() > 0);
    for (int i = 0; i < m.rowCount(); i++)
      QVERIFY(QString::fromStdString(m.entry(i)->row.completion).contains("think", Qt::CaseInsensitive));
    // bad FTS syntax: an error naming the query, the rows shown stay
    const int before = m.rowCount();
    const QString err = m.search(kRunA, "\"unbalanced", 10);
    QVERIFY(!err.isEmpty());
    QVERIFY(err.contains("unbalanced"));
    QCOMPARE(m.rowCount(), before);
    // a run that is not there is an error too
    QVERIFY(!m.loadStep(AHA_STUDIO_FIXTURE "/no-such-run", "grpo", 1).isEmpty());
  }

  void ahaMomentsAreTheTracesWithSpans() {
    std::vector<RunStoreReader::AhaMoment> moments;
    QCOMPARE(load_aha_moments(kRunA, moments), QString());
    int with_spans = 0;
    for (const auto& [stage, step] : reader().trace_steps())
      for (const TraceRow& r : reader().traces(step, stage)) {
        const bool listed = std::any_of(moments.begin(), moments.end(),
                                        [&](const auto& m) { return m.trace_id == r.id && m.step == r.step; });
        QCOMPARE(listed, r.aha_spans_json != "[]");
        with_spans += r.aha_spans_json != "[]";
      }
    QCOMPARE(int(moments.size()), with_spans);
    QVERIFY(!load_aha_moments(AHA_STUDIO_FIXTURE "/no-such-run", moments).isEmpty());
    QVERIFY(moments.empty());
  }
};

QTEST_GUILESS_MAIN(TestTraceModel)
#include "test_trace_model.moc"
