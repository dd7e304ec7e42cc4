// The launcher: the form validates like the CLI and shows errors beside their fields; the
// cost read-out is the engine's own; a preset starts through the RunController.
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "engine/config.h"
#include "engine/model.h"
#include "kernels/cpu/ops.h"
#include "views/config_form.h"
#include "views/launcher_view.h"
#include "views/models/run_controller.h"

using namespace aha::studio;

class TestLauncher : public QObject {
  Q_OBJECT
 private slots:
  void formShowsEveryKeyAndRoundTripsUnchanged() {
    ConfigForm f;
    const aha::RunConfig base = aha::load_config("tiny");
    f.setBase(base);
    QVERIFY(f.assignments().isEmpty());
    QCOMPARE(f.fieldText("model.hidden_size"), QString::number(base.model.hidden_size));
    QCOMPARE(f.fieldText("model.norm_topk_prob"), QString("true"));
    const auto cfg = f.config();
    QVERIFY(cfg.has_value());
    QCOMPARE(QString::fromStdString(aha::to_toml(*cfg)), QString::fromStdString(aha::to_toml(base)));
  }

  void anInvalidValueIsShownBesideItsFieldAndNothingElseChanges() {
    ConfigForm f;
    f.setBase(aha::load_config("tiny"));
    QVERIFY(f.setFieldText("model.num_experts_per_tok", "9"));  // more than the 8 experts
    QVERIFY(!f.config().has_value());
    QVERIFY2(f.errorFor("model.num_experts_per_tok").contains("n_routed_experts"),
             qPrintable(f.errorFor("model.num_experts_per_tok")));
    QVERIFY(f.errorFor("model.hidden_size").isEmpty());
    QCOMPARE(f.fieldText("model.num_experts_per_tok"), QString("9"));  // the user's text is kept
    // a wrong type, then a fix: the error goes away
    QVERIFY(f.setFieldText("model.num_experts_per_tok", "2"));
    QVERIFY(f.setFieldText("train.lr", "fast"));
    QVERIFY(!f.config().has_value());
    QVERIFY(!f.errorFor("train.lr").isEmpty());
    QVERIFY(f.errorFor("model.num_experts_per_tok").isEmpty());
    QVERIFY(f.setFieldText("train.lr", "0.001"));
    const auto ok = f.config();
    QVERIFY(ok.has_value());
    QCOMPARE(ok->train.lr, 0.001);
    QCOMPARE(f.assignments(), QStringList{"train.lr=0.001"});
    // a tag that is not a string names the array's field
    QVERIFY(f.setFieldText("tags", "[\"a\", 3]"));
    QVERIFY(!f.config().has_value());
    QVERIFY(!f.errorFor("tags").isEmpty());
  }

  void costIsTheEnginesAndFollowsEdits() {
    const aha::RunConfig tiny = aha::load_config("tiny");
    const ModelCost c = model_cost(tiny);
    const aha::Model m(tiny.model, aha::kernels::cpu_ops());
    QCOMPARE(c.params_total, double(m.params_total()));
    QCOMPARE(c.params_active, double(m.params_active()));
    QCOMPARE(c.kv_mla, m.kv_bytes_per_token(true));
    QVERIFY(c.kv_mha > c.kv_mla);
    RunController rc;
    LauncherView v(&rc);
    QSignalSpy cost(&v, &LauncherView::costUpdated);
    v.choosePreset("tiny");
    QVERIFY(cost.wait(10000));
    QVERIFY2(v.costText().contains("parameters"), qPrintable(v.costText()));
    const QString before = v.costText();
    v.form()->setFieldText("model.n_routed_experts", "16");
    v.form()->setFieldText("model.n_group", "4");
    v.validateNow();
    QTRY_VERIFY_WITH_TIMEOUT(v.costText() != before && v.costText().contains("parameters"), 10000);
  }

  void startRunsThePresetInTheRunDirectory() {
    QTemporaryDir ws;
    RunController rc;
    LauncherView v(&rc);
    v.setWorkspace(ws.path());
    QVERIFY(v.openConfigFile(AHA_SOURCE_DIR "/tests/studio/fixture.toml"));
    QVERIFY(!v.openConfigFile(ws.path() + "/missing.toml"));  // a clear message, the form keeps its config
    QVERIFY(v.statusText().contains("missing.toml"));
    v.form()->setFieldText("train.steps", "4");
    v.form()->setFieldText("sft.steps", "0");
    v.form()->setFieldText("grpo.steps", "0");
    v.validateNow();
    QSignalSpy started(&v, &LauncherView::runStarted);
    QSignalSpy finished(&rc, &RunController::finished);
    v.startRun();
    QCOMPARE(started.count(), 1);
    const QString dir = started.first().at(0).toString();
    QVERIFY(dir.startsWith(ws.path() + "/studio-fixture-"));
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.first().at(0).toString(), QString("finished"));
    QVERIFY(QFile::exists(dir + "/run.db"));
    // starting again into the same directory is refused before anything is written
    v.findChild<QLineEdit*>("runDir")->setText(dir);
    v.startRun();
    QVERIFY(v.statusText().contains("already holds a run"));
    QCOMPARE(started.count(), 1);
  }
};

QTEST_MAIN(TestLauncher)
#include "test_launcher.moc"
