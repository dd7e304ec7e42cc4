// The in-process run host: a real (micro) run on the controller's worker thread, seen
// only through queued signals; pause / resume / stop; engine errors as messages.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/run.h"
#include "engine/store.h"
#include "views/models/run_controller.h"

using namespace aha::studio;

namespace {
aha::RunConfig fixture_config(int steps) {
  aha::RunConfig c = aha::load_config(AHA_SOURCE_DIR "/tests/studio/fixture.toml");
  c.train.steps = steps;
  c.train.checkpoint_every = 0;
  return c;
}
}  // namespace

class TestRunController : public QObject {
  Q_OBJECT
 private slots:
  void tokenBytesBecomeWholeCharacters() {
    // "等" is E7 AD 89: fed a byte at a time, nothing is released until it is whole
    const std::string zh = "\xE7\xAD\x89";
    std::string tail, out;
    for (char b : "a" + zh + "b") {
      if (b == 0) break;
      tail += b;
      out += take_complete_utf8(tail);
      if (b == zh[0] || b == zh[1]) QVERIFY(out.find('\xE7') == std::string::npos);
    }
    QCOMPARE(QString::fromStdString(out), QString::fromUtf8("a\xE7\xAD\x89" "b"));
    QVERIFY(tail.empty());
    // stray continuation bytes and a lead byte that never completes are released, not held forever
    tail = "\x80\x80\x80\x80";
    QCOMPARE(take_complete_utf8(tail).size(), size_t(4));
    tail = "x\xF0";
    QCOMPARE(take_complete_utf8(tail), std::string("x"));
    QCOMPARE(tail, std::string("\xF0"));
  }

  void aRunReportsStepsTokensAndFinishes() {
    QTemporaryDir ws;
    RunController rc;
    QSignalSpy started(&rc, &RunController::started);
    QSignalSpy steps(&rc, &RunController::stepReported);
    QSignalSpy tokens(&rc, &RunController::tokensGenerated);
    QSignalSpy finished(&rc, &RunController::finished);
    const QString dir = ws.path() + "/r";
    rc.launch(fixture_config(8), dir);
    QVERIFY(rc.active());
    bool refused = false;
    try {
      rc.launch(fixture_config(8), ws.path() + "/other");
    } catch (const aha::InvalidArgument&) {
      refused = true;  // one run per controller at a time
    }
    QVERIFY(refused);
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.last().at(0).toString(), QString("finished"));
    QCOMPARE(started.count(), 1);
    QVERIFY(!rc.active());
    // every stage reported steps; the GRPO stage streamed its chains of thought
    QSet<QString> stages;
    for (const auto& s : steps) stages.insert(s.at(0).toString());
    QCOMPARE(stages, (QSet<QString>{"pretrain", "sft", "grpo"}));
    QVERIFY(!tokens.isEmpty());
    QString text;
    for (const auto& t : tokens)
      for (const TokenPiece& p : t.at(0).value<TokenPieces>())
        if (p.stage == "grpo" && p.sample == 0) text += p.text;
    QVERIFY(!text.isEmpty());
    // what the signals said is what the store recorded
    const aha::RunSummary s = aha::RunStoreReader::open(dir.toStdString(), false).summary();
    QCOMPARE(s.status, std::string("finished"));
    double last_reward = -1;
    for (const auto& sig : steps)
      if (sig.at(0).toString() == "grpo" && sig.at(4).toMap().contains("reward")) last_reward = sig.at(4).toMap()["reward"].toDouble();
    QCOMPARE(last_reward, s.latest.at("reward"));
  }

  void pauseResumeAndStopSaveACheckpoint() {
    QTemporaryDir ws;
    RunController rc;
    QSignalSpy status(&rc, &RunController::statusChanged);
    QSignalSpy steps(&rc, &RunController::stepReported);
    QSignalSpy finished(&rc, &RunController::finished);
    aha::RunConfig c = fixture_config(100000);
    c.train.log_every = 1;
    const QString dir = ws.path() + "/r";
    rc.launch(c, dir);
    QVERIFY(steps.wait(60000));
    rc.pause();
    QTRY_VERIFY_WITH_TIMEOUT(!status.isEmpty() && status.last().at(0).toString() == "paused", 10000);
    QTest::qWait(300);
    const int n = steps.count();
    QTest::qWait(500);
    QCOMPARE(steps.count(), n);  // paused: no step
    rc.resume();
    QTRY_VERIFY_WITH_TIMEOUT(steps.count() > n, 10000);
    rc.stop();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.last().at(0).toString(), QString("stopped"));
    QVERIFY(!aha::latest_checkpoint(dir.toStdString()).empty());
  }

  void aStoppedRunResumesFromItsCheckpointAndFinishes() {
    QTemporaryDir ws;
    const QString dir = ws.path() + "/r";
    RunController rc;
    QSignalSpy steps(&rc, &RunController::stepReported);
    QSignalSpy finished(&rc, &RunController::finished);
    aha::RunConfig c = fixture_config(40);
    c.train.log_every = 1;
    rc.launch(c, dir);
    QTRY_VERIFY_WITH_TIMEOUT(steps.count() >= 3, 60000);
    rc.stop();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.last().at(0).toString(), QString("stopped"));
    const std::string ckpt = aha::latest_checkpoint(dir.toStdString());
    QVERIFY(!ckpt.empty());
    steps.clear();
    rc.resumeInterrupted(dir);
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.last().at(0).toString(), QString("finished"));
    // it continued: the first step it reported is past the checkpoint's
    QVERIFY(!steps.isEmpty());
    QCOMPARE(steps.first().at(0).toString(), QString("pretrain"));
    QVERIFY(steps.first().at(1).toLongLong() > 1);
    const aha::RunSummary s = aha::RunStoreReader::open(dir.toStdString(), false).summary();
    QCOMPARE(s.status, std::string("finished"));
    QCOMPARE(s.stages.back().name, std::string("grpo"));
  }

  void engineErrorsArriveAsMessages() {
    QTemporaryDir ws;
    const QString dir = ws.path() + "/r";
    RunController rc;
    QSignalSpy failed(&rc, &RunController::failed);
    QSignalSpy finished(&rc, &RunController::finished);
    rc.launch(fixture_config(2), dir);
    QVERIFY(finished.wait(120000));
    rc.launch(fixture_config(2), dir);  // the directory already holds a run
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.last().at(0).toString(), QString("failed"));
    QCOMPARE(failed.count(), 1);
    QVERIFY2(failed.last().at(0).toString().contains("run.db"), qPrintable(failed.last().at(0).toString()));
    // and resuming a directory without a checkpoint says so
    rc.resumeInterrupted(ws.path() + "/nothing-here");
    QVERIFY(finished.wait(60000));
    QVERIFY(failed.last().at(0).toString().contains("no checkpoint"));
  }
};

QTEST_GUILESS_MAIN(TestRunController)
#include "test_run_controller.moc"
