#include "app/studio_tools.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTabWidget>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "views/launcher_view.h"
#include "views/main_window.h"
#include "views/models/run_controller.h"
#include "views/run_browser_view.h"
#include "views/compare_view.h"
#include "views/models/run_list_model.h"

namespace aha::studio {

namespace {
void wait_ms(int ms) {
  QEventLoop loop;
  QTimer::singleShot(ms, &loop, &QEventLoop::quit);
  loop.exec();
}

// Stops the controller's run and waits (event loop running) until its thread is done.
void stop_and_wait(RunController* rc) {
  if (!rc->active()) return;
  QEventLoop loop;
  QObject::connect(rc, &RunController::finished, &loop, &QEventLoop::quit);
  rc->stop();
  if (rc->active()) loop.exec();
}
}  // namespace

int bench_latency(MainWindow& w, double seconds, int stay_on) {
  RunController* rc = w.controller();
  w.launcher()->startRun();
  if (!rc->active()) {
    std::fprintf(stderr, "aha-studio: the run did not start: %s\n", qPrintable(w.launcher()->statusText()));
    return 1;
  }
  int steps = 0, pieces = 0;
  QObject::connect(rc, &RunController::stepReported, [&] { steps++; });
  QObject::connect(rc, &RunController::tokensGenerated, [&](const TokenPieces& p) { pieces += p.size(); });
  std::vector<double> late;
  std::vector<double> tab_max(MainWindow::TabCount, 0.0);  // where the worst delays happen
  QElapsedTimer clock;
  clock.start();
  qint64 expected = 10;
  QTimer tick;
  tick.setTimerType(Qt::PreciseTimer);
  tick.setInterval(10);
  QObject::connect(&tick, &QTimer::timeout, [&] {
    const qint64 now = clock.nsecsElapsed();
    late.push_back(std::max<double>(0.0, double(now - expected * 1000000) / 1e6));
    double& m = tab_max[w.tabs()->currentIndex()];
    m = std::max(m, late.back());
    expected = now / 1000000 + 10;
  });
  // visit every view while the run trains, so each one's painting counts
  QTimer tabs;
  tabs.setInterval(3000);
  QObject::connect(&tabs, &QTimer::timeout, [&] {
    const int next = (w.tabs()->currentIndex() + 1) % MainWindow::TabCount;
    w.tabs()->setCurrentIndex(next == MainWindow::CompareTab ? MainWindow::DashboardTab : next);
  });
  w.tabs()->setCurrentIndex(stay_on >= 0 ? stay_on : int(MainWindow::DashboardTab));
  tick.start();
  if (stay_on < 0) tabs.start();
  wait_ms(int(seconds * 1000));
  tick.stop();
  tabs.stop();
  stop_and_wait(rc);
  std::vector<double> s = late;
  std::sort(s.begin(), s.end());
  auto pct = [&](double p) { return s.empty() ? 0.0 : s[std::min(s.size() - 1, size_t(p * double(s.size())))]; };
  double mean = 0;
  for (double v : s) mean += v / double(s.size());
  QString per_tab;
  for (int t = 0; t < MainWindow::TabCount; t++)
    if (t != MainWindow::CompareTab)
      per_tab += QString("%1\"%2\": %3").arg(per_tab.isEmpty() ? "" : ", ", w.tabs()->tabText(t).toLower())
                     .arg(tab_max[t], 0, 'f', 2);
  std::printf("{\"seconds\": %.1f, \"samples\": %zu, \"late_ms_mean\": %.2f, \"late_ms_p50\": %.2f, "
              "\"late_ms_p99\": %.2f, \"late_ms_max\": %.2f, \"late_ms_max_by_tab\": {%s}, \"steps_reported\": %d, "
              "\"token_pieces\": %d}\n",
              seconds, s.size(), mean, pct(0.5), pct(0.99), s.empty() ? 0.0 : s.back(), qPrintable(per_tab), steps, pieces);
  return 0;
}

int take_screenshots(MainWindow& w, const QString& dir, double after_s, bool train) {
  QDir().mkpath(dir);
  RunController* rc = w.controller();
  w.resize(1440, 900);
  if (train) {
    w.launcher()->startRun();
    if (!rc->active()) {
      std::fprintf(stderr, "aha-studio: the run did not start: %s\n", qPrintable(w.launcher()->statusText()));
      return 1;
    }
  }
  const QString run = train ? rc->runDir() : w.currentRun();
  // watch it live: the dashboard, then the reasoning tab while GRPO or eval generates
  w.tabs()->setCurrentIndex(MainWindow::DashboardTab);
  wait_ms(int(after_s * 1000));
  // compare this run with the newest other run of the workspace, if there is one
  QStringList others;
  RunListModel* m = w.runs()->model();
  for (int i = 0; i < m->rowCount(); i++)
    if (m->run(i)->dir != run && m->run(i)->status != "unreadable") others << m->run(i)->dir;
  if (!others.isEmpty()) w.compare()->setRuns({run, others.last()});
  int failures = 0;
  for (int t = 0; t < MainWindow::TabCount; t++) {
    w.tabs()->setCurrentIndex(t);
    wait_ms(700);  // a few redraw periods
    const QString name = w.tabs()->tabText(t).toLower();
    const QString path = QDir(dir).filePath(QString("%1-%2.png").arg(t + 1, 2, 10, QChar('0')).arg(name));
    if (!w.grab().save(path)) {
      std::fprintf(stderr, "aha-studio: could not write %s\n", qPrintable(path));
      failures++;
    } else {
      std::printf("%s\n", qPrintable(path));
    }
  }
  std::fflush(stdout);
  stop_and_wait(rc);
  return failures ? 1 : 0;
}

}  // namespace aha::studio
