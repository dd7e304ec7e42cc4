// The Dashboard on the fixture's run-a: a chart for each charted series the run has,
// the plotted values are the store's, the x-axis modes place the stages end to end,
// zoom is linked, and the charts export to PNG, SVG and PDF.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

#include "engine/store.h"
#include "views/dashboard_view.h"

using namespace aha::studio;

namespace {
const std::string kRun = std::string(AHA_STUDIO_FIXTURE) + "/run-a";

bool all_loaded(const DashboardView& v) {
  for (ChartPanel* p : v.panels())
    if (p->isLoading()) return false;
  return !v.panels().isEmpty();
}
}  // namespace

class TestDashboard : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() {
    reader_ = std::make_unique<aha::RunStoreReader>(aha::RunStoreReader::open_checked(kRun, false, false));
    view_ = std::make_unique<DashboardView>();
    view_->resize(1200, 900);
    view_->show();
    view_->setRun(QString::fromStdString(kRun));
    QTRY_VERIFY_WITH_TIMEOUT(all_loaded(*view_), 10000);
  }
  void cleanupTestCase() { view_.reset(); }

  void aChartForEveryChartedSeries() {
    int charted = 0;
    for (const std::string& s : reader_->series()) {
      const QString name = QString::fromStdString(s);
      const bool expect = chart_group_of(name) >= 0;
      charted += expect;
      QVERIFY2((view_->panel(name) != nullptr) == expect, qPrintable(name));
    }
    QCOMPARE(view_->panels().size(), charted);
    QCOMPARE(view_->charts().size(), charted);
    for (const char* s : {"loss", "lm_loss", "mtp_loss_1", "balance_loss", "reward", "rewards/accuracy/mean",
                          "accuracy", "completions/mean_length", "entropy", "clip_ratio/low_mean", "grad_norm", "lr",
                          "tokens_per_s", "mfu", "eval/arithmetic/pass@1"})
      QVERIFY2(view_->panel(s), s);
    QVERIFY(!view_->panel("params_total"));   // a constant: no chart
    QVERIFY(!view_->panel("kl"));             // the fixture's GRPO (beta 0) records no KL
    QVERIFY(!view_->panel("rewards/accuracy/std"));
  }

  void plottedPointsAreTheStoresPoints() {
    view_->setEmaWeight(0.0);  // the EMA line is then the raw values
    for (const char* metric : {"loss", "reward", "lr"}) {
      ChartPanel* p = view_->panel(metric);
      const auto pts = reader_->points(metric);
      QCPGraph* raw = p->rawGraph(0);
      QCOMPARE(raw->data()->size(), static_cast<int>(pts.size()));  // one bucket per point at this size
      for (int i = 0; i < raw->data()->size(); i++) {
        QCOMPARE(raw->data()->at(i)->value, pts[i].value);
        QCOMPARE(p->emaGraph(0)->data()->at(i)->value, pts[i].value);
      }
      QCOMPARE(raw->data()->at(raw->data()->size() - 1)->value, reader_->summary().latest.at(metric));
    }
    view_->setEmaWeight(0.9);
    // smoothed now: the last EMA value differs from the last raw loss (the loss moves)
    ChartPanel* loss = view_->panel("loss");
    const int n = loss->emaGraph(0)->data()->size();
    QVERIFY(loss->emaGraph(0)->data()->at(n - 1)->value != loss->rawGraph(0)->data()->at(n - 1)->value);
  }

  void hoverShowsXAndValue() {
    ChartPanel* p = view_->panel("loss");
    p->showReadout(24.2);  // nearest point: pretrain's last step
    const auto pts = reader_->points("loss");
    QVERIFY2(p->hoverText().contains("step 24"), qPrintable(p->hoverText()));
    QVERIFY(p->hoverText().contains(QString::number(pts[23].value, 'g', 5)));
  }

  void xAxisModesPlaceTheStagesEndToEnd() {
    const auto stages = reader_->stage_steps();
    ChartPanel* p = view_->panel("loss");
    bool found = false;
    QCPRange keys = p->emaGraph(0)->getKeyRange(found);
    QVERIFY(found);
    QCOMPARE(keys.lower, 1.0);
    QCOMPARE(keys.upper, double(stages.back().offset + stages.back().last_step));  // 24 + 3 + 4
    view_->setXAxis(XAxis::Tokens);
    QTRY_VERIFY_WITH_TIMEOUT(all_loaded(*view_), 10000);
    keys = p->emaGraph(0)->getKeyRange(found);
    QCOMPARE(keys.upper, double(stages.back().token_offset + stages.back().last_tokens));
    QVERIFY(keys.upper > 1000);
    QCOMPARE(p->plot()->xAxis->label(), QStringLiteral("tokens"));
    view_->setXAxis(XAxis::Wall);
    QTRY_VERIFY_WITH_TIMEOUT(all_loaded(*view_), 10000);
    keys = p->emaGraph(0)->getKeyRange(found);
    double last_wall = 0;
    for (const auto& pt : reader_->points("loss")) last_wall = std::max(last_wall, pt.wall);
    QCOMPARE(keys.upper, last_wall);
    view_->setXAxis(XAxis::Step);
    QTRY_VERIFY_WITH_TIMEOUT(all_loaded(*view_), 10000);
  }

  void zoomingOneChartZoomsAll() {
    QList<ChartPanel*> ps = view_->panels();
    QVERIFY(ps.size() > 3);
    ps[0]->plot()->xAxis->setRange(5, 12);  // as a wheel zoom would
    for (ChartPanel* p : ps) {
      QCOMPARE(p->plot()->xAxis->range().lower, 5.0);
      QCOMPARE(p->plot()->xAxis->range().upper, 12.0);
    }
    // the zoomed charts read their range again from the store, and keep it
    QTest::qWait(300);
    QTRY_VERIFY_WITH_TIMEOUT(all_loaded(*view_), 10000);
    QCOMPARE(ps[2]->plot()->xAxis->range().upper, 12.0);
    for (ChartPanel* p : ps) p->resetZoom();
    QTRY_VERIFY_WITH_TIMEOUT(all_loaded(*view_), 10000);
    QVERIFY(ps[0]->plot()->xAxis->range().upper > 12.0);
  }

  void exportWritesEachFormat_data() {
    QTest::addColumn<QString>("format");
    QTest::addColumn<QByteArray>("magic");
    QTest::newRow("png") << "png" << QByteArray("\x89PNG\r\n\x1a\n");
    QTest::newRow("pdf") << "pdf" << QByteArray("%PDF");
    QTest::newRow("svg") << "svg" << QByteArray("<svg");
  }
  void exportWritesEachFormat() {
    QFETCH(QString, format);
    QFETCH(QByteArray, magic);
    QTemporaryDir dir;
    QSignalSpy spy(view_.get(), &DashboardView::exported);
    view_->exportCharts(dir.path(), format);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(view_->lastExportError(), QString());
    const QStringList files = spy[0][0].toStringList();
    QCOMPARE(files.size(), view_->panels().size());
    QVERIFY(files.contains(dir.filePath("rewards_accuracy_mean." + format)));
    for (const QString& f : files) {
      QFile file(f);
      QVERIFY(file.open(QIODevice::ReadOnly));
      const QByteArray head = file.read(4096);
      QVERIFY2(file.size() > 500, qPrintable(f));
      if (format == "svg") QVERIFY2(head.contains(magic), qPrintable(f));
      else QVERIFY2(head.startsWith(magic), qPrintable(f));
    }
  }
  void exportRefusesAnUnknownFormat() {
    QTemporaryDir dir;
    QCOMPARE(export_chart(view_->charts()[0], dir.filePath("x.png")), QString());
    QVERIFY(export_chart(view_->charts()[0], dir.filePath("x.bmp")).contains(".bmp"));
    QVERIFY(!export_chart(view_->charts()[0], "/nonexistent-dir/x.png").isEmpty());
  }

 private:
  std::unique_ptr<aha::RunStoreReader> reader_;
  std::unique_ptr<DashboardView> view_;
};

QTEST_MAIN(TestDashboard)
#include "test_dashboard.moc"
