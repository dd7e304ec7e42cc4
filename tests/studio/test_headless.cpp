// aha-studio without a display: it says so and runs the preset headless through the CLI
// (terminal progress bar) instead of aborting like a bare QApplication would.
#include <QDir>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "engine/store.h"

class TestHeadless : public QObject {
  Q_OBJECT
 private slots:
  void noDisplayRunsThePresetThroughTheCli() {
    QTemporaryDir ws;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char* v : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}) env.remove(v);
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(AHA_STUDIO_BIN, {"--preset", "micro", "--workspace", ws.path()});
    QVERIFY(p.waitForFinished(120000));
    const QString err = QString::fromUtf8(p.readAllStandardError());
    QCOMPARE(p.exitCode(), 0);
    QVERIFY2(err.contains("no display"), qPrintable(err));
    QVERIFY(err.contains("train micro"));
    const QStringList runs = QDir(ws.path()).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    QCOMPARE(runs.size(), 1);
    const auto s = aha::RunStoreReader::open((ws.path() + "/" + runs[0]).toStdString(), false).summary();
    QCOMPARE(s.status, std::string("finished"));
    QCOMPARE(s.name, std::string("micro"));
  }
};

QTEST_GUILESS_MAIN(TestHeadless)
#include "test_headless.moc"
