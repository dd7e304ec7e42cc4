// The experts and efficiency tabs on the fixture runs: what they draw is what the run
// store holds; decoding measured on demand lands in the run's own database.
#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <qcustomplot.h>

#include "engine/config.h"
#include "engine/run.h"
#include "engine/store.h"
#include "views/efficiency_view.h"
#include "views/experts_view.h"

using namespace aha::studio;
namespace fs = std::filesystem;

class TestExpertsEfficiency : public QObject {
  Q_OBJECT
 private:
  QString run_a = QStringLiteral(AHA_STUDIO_FIXTURE "/run-a");

 private slots:
  void expertsHeatmapIsLoadOverMeanAtTheNewestStep() {
    ExpertsView v;
    QSignalSpy loaded(&v, &ExpertsView::loaded);
    v.setRun(run_a);
    QVERIFY(loaded.wait(10000));  // read on a helper thread
    const auto r = aha::RunStoreReader::open(run_a.toStdString(), false);
    const auto steps = r.moe_steps();
    QVERIFY(!steps.empty());
    const auto& [stage, step] = steps.back();
    QCOMPARE(v.stepLabel(), QString("%1 %2").arg(QString::fromStdString(stage)).arg(step));
    const auto rows = r.moe(stage, step);
    QCOMPARE(v.layerCount(), int(rows.size()));
    for (size_t l = 0; l < rows.size(); l++) {
      double mean = 0;
      for (int64_t t : rows[l].tokens) mean += double(t) / double(rows[l].tokens.size());
      QVERIFY(mean > 0);  // GRPO's policy updates route tokens too
      for (size_t e = 0; e < rows[l].tokens.size(); e++)
        QCOMPARE(v.layerExpertCell(int(l), int(e)), double(rows[l].tokens[e]) / mean);
    }
    QCOMPARE(v.charts().size(), 4);
    // imbalance chart: one line per MoE layer recorded
    QCustomPlot* imb = v.charts()[3];
    QVERIFY(imb->graphCount() >= 1);
    QVERIFY(imb->graph(0)->dataCount() > 1);
  }

  void efficiencyFiguresAreTheStoresAndDecodeIsMeasuredIntoTheRun() {
    QTemporaryDir ws;
    const QString copy = ws.path() + "/run-a";
    fs::copy(run_a.toStdString(), copy.toStdString(), fs::copy_options::recursive);
    EfficiencyView v;
    QSignalSpy loaded(&v, &EfficiencyView::loaded);
    v.setRun(copy);
    QVERIFY(loaded.wait(10000));
    const auto latest = aha::RunStoreReader::open(copy.toStdString(), false).summary().latest;
    const QString mla = QString::number(latest.at("kv_bytes_per_token_mla"), 'f', 0);
    const QString mha = QString::number(latest.at("kv_bytes_per_token_mha"), 'f', 0);
    QVERIFY2(v.figuresText().contains(mla + " B/token with MLA"), qPrintable(v.figuresText()));
    QVERIFY(v.figuresText().contains(mha + " B/token for the MHA"));
    QVERIFY(v.figuresText().contains("not measured yet"));
    QSignalSpy measured(&v, &EfficiencyView::measured);
    v.measureDecode();
    QVERIFY(measured.wait(120000));
    QVERIFY(loaded.wait(10000));  // the view re-read the run
    const auto after = aha::RunStoreReader::open(copy.toStdString(), false).summary().latest;
    QVERIFY2(after.count("decode/tokens_per_s_latent"), qPrintable(measured.first().at(0).toString()));
    QVERIFY(after.at("decode/tokens_per_s_latent") > 0);
    QVERIFY(after.at("decode/tokens_per_s_naive") > 0);
    QVERIFY(after.at("decode/mtp_acceptance") >= 0 && after.at("decode/mtp_acceptance") <= 1);
    QVERIFY(v.figuresText().contains(QString("Latent cache %1 tokens/s").arg(after.at("decode/tokens_per_s_latent"), 0, 'f', 0)));
  }

  void fp8StatisticsAndTheLossGapToABaselineRun() {
    QTemporaryDir ws;
    for (const char* p : {"bf16", "fp8"}) {
      aha::RunConfig c = aha::apply_overrides(aha::load_config("micro"),
                                              {std::string("train.precision=") + p, "train.steps=12", "train.log_every=6"});
      aha::Run run(c, (ws.path() + "/" + p).toStdString());
      run.run_blocking();
      QCOMPARE(int(run.status()), int(aha::RunStatus::Finished));
    }
    EfficiencyView v;
    QSignalSpy loaded(&v, &EfficiencyView::loaded);
    v.setRun(ws.path() + "/fp8");
    QVERIFY(loaded.wait(10000));
    const auto rows = aha::RunStoreReader::open((ws.path() + "/fp8").toStdString(), false).fp8_latest();
    QCOMPARE(v.fp8Rows(), int(rows.size()));
    QVERIFY(v.fp8Rows() > 0);
    QVERIFY(v.findChild<QLabel*>("fp8Summary")->text().contains("E4M3"));
    QVERIFY(v.gapText().contains("choose"));
    v.setBaseline(ws.path() + "/bf16");
    QVERIFY(loaded.wait(10000));
    // the final gap the view prints is the EMA gap of the two stored loss series
    const auto a = aha::RunStoreReader::open((ws.path() + "/fp8").toStdString(), false).points("loss");
    const auto b = aha::RunStoreReader::open((ws.path() + "/bf16").toStdString(), false).points("loss");
    QCOMPARE(a.size(), b.size());
    double ea = 0, eb = 0;
    for (size_t i = 0; i < a.size(); i++) ea = 0.98 * ea + 0.02 * a[i].value, eb = 0.98 * eb + 0.02 * b[i].value;
    QVERIFY2(v.gapText().contains(QString::number(100 * (ea - eb) / eb, 'f', 3) + "%"), qPrintable(v.gapText()));
    // a BF16 run says it has no FP8 statistics
    v.setRun(ws.path() + "/bf16");
    QVERIFY(loaded.wait(10000));
    QCOMPARE(v.fp8Rows(), 0);
    QVERIFY(v.findChild<QLabel*>("fp8Summary")->text().contains("BF16"));
  }

  void aRunWithoutCheckpointsCannotBeMeasuredAndSaysSo() {
    QTemporaryDir ws;
    const QString copy = ws.path() + "/run-a";
    fs::copy(run_a.toStdString(), copy.toStdString(), fs::copy_options::recursive);
    fs::remove_all((copy + "/checkpoints").toStdString());
    EfficiencyView v;
    QSignalSpy loaded(&v, &EfficiencyView::loaded);
    v.setRun(copy);
    QVERIFY(loaded.wait(10000));
    QSignalSpy measured(&v, &EfficiencyView::measured);
    v.measureDecode();
    QVERIFY(measured.wait(30000));
    QVERIFY(measured.first().at(0).toString().contains("no checkpoint"));
  }
};

QTEST_MAIN(TestExpertsEfficiency)
#include "test_experts_efficiency.moc"
