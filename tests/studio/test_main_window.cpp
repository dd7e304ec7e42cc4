// The whole window on the fixture workspace and on a run it launches itself: runs appear
// in the browser, opening one feeds every view, a launched run streams its chains of
// thought into the reasoning tab, charts export, settings are remembered.
#include <QDir>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <qcustomplot.h>

#include "engine/store.h"
#include "views/chart_panel.h"
#include "views/config_form.h"
#include "views/dashboard_view.h"
#include "views/inspector_view.h"
#include "views/launcher_view.h"
#include "views/live_reasoning_view.h"
#include "views/main_window.h"
#include "views/models/run_controller.h"
#include "views/run_browser_view.h"

using namespace aha::studio;
namespace fs = std::filesystem;

class TestMainWindow : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }  // settings in a test location

  void workspaceRunsOpenInEveryView() {
    QTemporaryDir ws;
    for (const char* r : {"run-a", "run-b"})
      fs::copy(fs::path(AHA_STUDIO_FIXTURE) / r, fs::path(ws.path().toStdString()) / r, fs::copy_options::recursive);
    MainWindow w;
    w.openWorkspace(ws.path());
    QTRY_COMPARE_WITH_TIMEOUT(w.runs()->model()->rowCount(), 2, 5000);
    const QString a = ws.path() + "/run-a";
    emit w.runs()->runActivated(a);
    QCOMPARE(w.tabs()->currentIndex(), int(MainWindow::DashboardTab));
    QCOMPARE(w.currentRun(), a);
    QCOMPARE(w.dashboard()->run(), a);
    QCOMPARE(w.inspector()->runDir(), a);
    QTRY_VERIFY_WITH_TIMEOUT(!w.dashboard()->charts().isEmpty(), 5000);
    // export the dashboard's charts
    QTemporaryDir out;
    const QStringList files = w.exportCharts(out.path(), "png");
    QCOMPARE(files.size(), w.dashboard()->charts().size());
    for (const QString& f : files) {
      QFile png(f);
      QVERIFY(png.open(QIODevice::ReadOnly));
      QCOMPARE(png.read(4), QByteArray("\x89PNG"));
    }
    // a run appearing later (another process writing it) shows up by itself
    fs::copy(fs::path(AHA_STUDIO_FIXTURE) / "run-a", fs::path(ws.path().toStdString()) / "run-c", fs::copy_options::recursive);
    QTRY_COMPARE_WITH_TIMEOUT(w.runs()->model()->rowCount(), 3, 5000);
    // themes switch without losing the run
    w.setTheme(Theme::Dark);
    QCOMPARE(QSettings().value("theme").toString(), QString("dark"));
    QCOMPARE(w.currentRun(), a);
    w.setTheme(Theme::Light);
  }

  void aLaunchedRunStreamsItsReasoningAndIsBrowsable() {
    QTemporaryDir ws;
    MainWindow w;
    w.openWorkspace(ws.path());
    QVERIFY(w.launcher()->openConfigFile(AHA_SOURCE_DIR "/tests/studio/fixture.toml"));
    w.launcher()->validateNow();
    QSignalSpy finished(w.controller(), &RunController::finished);
    QSignalSpy tokens(w.controller(), &RunController::tokensGenerated);
    w.launcher()->startRun();
    QVERIFY(w.controller()->active());
    const QString dir = w.controller()->runDir();
    QCOMPARE(w.currentRun(), dir);
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.first().at(0).toString(), QString("finished"));
    QVERIFY(!tokens.isEmpty());
    // the live panel holds what the generator wrote last: its text is a stored completion
    auto* live = w.inspector()->findChild<LiveReasoningView*>();
    QVERIFY(live);
    QVERIFY(live->sampleCount() > 0);
    const auto r = aha::RunStoreReader::open(dir.toStdString(), false);
    bool found = false;
    for (const auto& t : r.traces(live->step(), live->stage().toStdString()))
      found |= QString::fromStdString(t.completion) == live->sampleText(0);
    QVERIFY2(found, qPrintable(QString("live sample 0 of %1 %2: %3").arg(live->stage()).arg(live->step()).arg(live->sampleText(0))));
    // the dashboard followed the run live: its loss chart holds every point the store has
    const size_t stored = aha::RunStoreReader::open(dir.toStdString(), false).points("loss").size();
    QVERIFY(stored >= 24);
    QTRY_VERIFY_WITH_TIMEOUT(w.dashboard()->panel("loss") != nullptr, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(size_t(w.dashboard()->panel("loss")->emaGraph(0)->dataCount()), stored, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(w.runs()->model()->rowOf(dir) >= 0, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(w.runs()->model()->run(w.runs()->model()->rowOf(dir))->status, QString("finished"), 5000);
  }

  void settingsRememberTheWorkspaceAndTab() {
    QTemporaryDir ws;
    {
      MainWindow w;
      w.openWorkspace(ws.path());
      w.tabs()->setCurrentIndex(MainWindow::ExpertsTab);
      w.close();
    }
    QCOMPARE(QSettings().value("workspace").toString(), QDir(ws.path()).absolutePath());
    MainWindow again;
    QCOMPARE(again.tabs()->currentIndex(), int(MainWindow::ExpertsTab));
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
