#include "views/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <qcustomplot.h>

#include "views/chart_panel.h"
#include "views/compare_view.h"
#include "views/dashboard_view.h"
#include "views/efficiency_view.h"
#include "views/experts_view.h"
#include "views/inspector_view.h"
#include "views/launcher_view.h"
#include "views/models/csv_export.h"
#include "views/models/run_controller.h"
#include "views/models/trace_model.h"
#include "views/models/workspace_watcher.h"
#include "views/run_browser_view.h"

// The icon and other resources live in this static library: register them once.
static void init_studio_resources() { Q_INIT_RESOURCE(studio); }

namespace aha::studio {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  init_studio_resources();
  setObjectName("ahaStudioMainWindow");
  setWindowTitle("Aha Studio");
  setWindowIcon(QIcon(":/aha/icon.svg"));
  rc_ = new RunController(this);
  watcher_ = new WorkspaceWatcher(this);
  runs_ = new RunBrowserView;
  launcher_ = new LauncherView(rc_);
  dashboard_ = new DashboardView;
  experts_ = new ExpertsView;
  efficiency_ = new EfficiencyView;
  inspector_ = new InspectorView;
  compare_ = new CompareView;
  tabs_ = new QTabWidget;
  tabs_->setDocumentMode(true);
  tabs_->addTab(runs_, tr("Runs"));
  tabs_->addTab(launcher_, tr("Launch"));
  tabs_->addTab(dashboard_, tr("Dashboard"));
  tabs_->addTab(experts_, tr("Experts"));
  tabs_->addTab(efficiency_, tr("Efficiency"));
  tabs_->addTab(inspector_, tr("Reasoning"));
  tabs_->addTab(compare_, tr("Compare"));
  setCentralWidget(tabs_);
  run_label_ = new QLabel;
  status_label_ = new QLabel;
  status_label_->setWordWrap(false);
  statusBar()->addWidget(run_label_);
  statusBar()->addPermanentWidget(status_label_);

  // live workspace → run browser (queued from the scan thread)
  connect(watcher_, &WorkspaceWatcher::scanned, runs_, &RunBrowserView::setRuns);
  connect(runs_, &RunBrowserView::runActivated, this, [this](const QString& d) {
    openRun(d);
    tabs_->setCurrentIndex(DashboardTab);
  });
  connect(runs_, &RunBrowserView::compareRequested, this, [this](const QStringList& dirs) {
    compare_->setRuns(dirs);
    tabs_->setCurrentIndex(CompareTab);
  });
  connect(runs_, &RunBrowserView::resumeRequested, this, [this](const QString& d) {
    try {
      rc_->resumeInterrupted(d);
      openRun(d);
      tabs_->setCurrentIndex(DashboardTab);
    } catch (const std::exception& e) {
      showMessage(QString::fromUtf8(e.what()), true);
    }
  });
  connect(runs_->model(), &RunListModel::editFailed, this, [this](const QString& m) { showMessage(m, true); });

  // the in-process run
  connect(launcher_, &LauncherView::runStarted, this, [this](const QString& d) {
    openRun(d);
    tabs_->setCurrentIndex(DashboardTab);
  });
  connect(rc_, &RunController::started, this, [this](const QString& d) {
    watcher_->rescan();
    if (current_run_ == d) openRun(d);  // its database exists now: views can read it
  });
  connect(rc_, &RunController::tokensGenerated, inspector_, &InspectorView::appendTokens);
  connect(rc_, &RunController::statusChanged, this, [this](const QString& s) {
    status_label_->setText(tr("%1: %2").arg(QDir(rc_->runDir()).dirName(), s));
    watcher_->rescan();
  });
  connect(rc_, &RunController::failed, this, [this](const QString& m) { showMessage(m, true); });
  connect(rc_, &RunController::finished, this, [this](const QString& s) {
    showMessage(tr("Run %1 %2").arg(QDir(rc_->runDir()).dirName(), s), s == "failed");
    watcher_->rescan();
    if (current_run_ == rc_->runDir()) {
      experts_->reload();
      efficiency_->reload();
    }
  });
  connect(efficiency_, &EfficiencyView::measured, this, [this](const QString& m) { showMessage(m); });

  buildMenus();
  restoreSettings();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("Open &workspace…"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open a workspace (a folder of runs)"), workspace_);
    if (!d.isEmpty()) openWorkspace(d);
  });
  open->setShortcut(QKeySequence::Open);
  QAction* charts = file->addAction(tr("&Export charts…"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Export the charts of this tab into"), workspace_);
    if (d.isEmpty()) return;
    for (const QString fmt : {"png", "svg", "pdf"}) exportCharts(d, fmt);
  });
  charts->setShortcut(QKeySequence(tr("Ctrl+E")));
  QAction* csv = file->addAction(tr("Export table as &CSV…"), this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Export the table as CSV"), workspace_, tr("CSV (*.csv)"));
    if (f.isEmpty()) return;
    const QString err = tabs_->currentIndex() == ReasoningTab ? export_csv(*inspector_->filterModel(), f) : runs_->exportCsv(f);
    showMessage(err.isEmpty() ? tr("Wrote %1").arg(f) : err, !err.isEmpty());
  });
  csv->setShortcut(QKeySequence(tr("Ctrl+Shift+E")));
  file->addSeparator();
  file->addAction(tr("&Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(tr("&Start"), launcher_, &LauncherView::startRun)->setShortcut(QKeySequence(tr("Ctrl+R")));
  run->addAction(tr("&Pause"), rc_, &RunController::pause)->setShortcut(QKeySequence(tr("Ctrl+P")));
  run->addAction(tr("Res&ume"), rc_, &RunController::resume)->setShortcut(QKeySequence(tr("Ctrl+Shift+P")));
  run->addAction(tr("S&top"), rc_, &RunController::stop)->setShortcut(QKeySequence(tr("Ctrl+.")));

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < TabCount; i++) {
    QAction* a = view->addAction(tabs_->tabText(i), this, [this, i] { tabs_->setCurrentIndex(i); });
    a->setShortcut(QKeySequence(QString("Ctrl+%1").arg(i + 1)));
  }
  view->addSeparator();
  QAction* find = view->addAction(tr("&Find runs"), this, [this] {
    tabs_->setCurrentIndex(RunsTab);
    if (auto* f = runs_->findChild<QWidget*>("runFilter")) f->setFocus();
  });
  find->setShortcut(QKeySequence::Find);
  QAction* dark = view->addAction(tr("&Dark theme"));
  dark->setCheckable(true);
  dark->setChecked(current_theme() == Theme::Dark);
  dark->setShortcut(QKeySequence(tr("Ctrl+Shift+T")));
  connect(dark, &QAction::toggled, this, [this](bool on) { setTheme(on ? Theme::Dark : Theme::Light); });
  view->addAction(tr("&Refresh"), this, [this] {
    watcher_->rescan();
    if (!current_run_.isEmpty()) openRun(current_run_);
  })->setShortcut(QKeySequence::Refresh);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About Aha Studio"), this, [this] {
    QMessageBox::about(this, tr("About Aha Studio"),
                       tr("<b>Aha Studio</b> 0.1 — train a DeepSeek-V3-shaped model (MLA, DeepSeekMoE, MTP) from "
                          "scratch, then watch GRPO teach it to reason. Every number here was computed by the "
                          "engine on this machine."));
  });
}

void MainWindow::openWorkspace(const QString& dir) {
  workspace_ = QDir(dir).absolutePath();
  QDir().mkpath(workspace_);
  watcher_->setWorkspace(workspace_);
  launcher_->setWorkspace(workspace_);
  setWindowTitle(tr("Aha Studio — %1").arg(workspace_));
}

void MainWindow::openRun(const QString& run_dir) {
  current_run_ = run_dir;
  run_label_->setText(tr("Run: %1").arg(QDir(run_dir).dirName()));
  if (!QFile::exists(QDir(run_dir).filePath("run.db"))) return;  // starting: RunController::started reopens it
  dashboard_->setRun(run_dir);
  experts_->setRun(run_dir);
  efficiency_->setRun(run_dir);
  inspector_->setRun(run_dir);
}

QStringList MainWindow::exportCharts(const QString& dir, const QString& format) {
  QList<QCustomPlot*> plots;
  switch (tabs_->currentIndex()) {
    case DashboardTab: plots = dashboard_->charts(); break;
    case ExpertsTab: plots = experts_->charts(); break;
    case EfficiencyTab: plots = efficiency_->charts(); break;
    case CompareTab: plots = compare_->findChildren<QCustomPlot*>(); break;
    default: plots = tabs_->currentWidget()->findChildren<QCustomPlot*>(); break;
  }
  QStringList written;
  const QString tab = tabs_->tabText(tabs_->currentIndex()).toLower();
  for (int i = 0; i < plots.size(); i++) {
    const QString path = QDir(dir).filePath(QString("%1-%2.%3").arg(tab).arg(i + 1, 2, 10, QChar('0')).arg(format));
    const QString err = export_chart(plots[i], path);
    if (!err.isEmpty()) {
      showMessage(err, true);
      return written;
    }
    written << path;
  }
  showMessage(written.isEmpty() ? tr("This tab has no charts to export") : tr("Wrote %1 files to %2").arg(written.size()).arg(dir));
  return written;
}

void MainWindow::setTheme(Theme t) {
  apply_theme(*qApp, t);
  QSettings().setValue("theme", theme_name(t));
  // charts draw with theme colours: rebuild what the views show
  if (!current_run_.isEmpty()) openRun(current_run_);
}

void MainWindow::showMessage(const QString& text, bool error) {
  statusBar()->showMessage(text, error ? 0 : 8000);
  statusBar()->setStyleSheet(error ? QString("QStatusBar { color: %1; }").arg(theme_colors().error.name()) : QString());
}

void MainWindow::restoreSettings() {
  QSettings s;
  restoreGeometry(s.value("window/geometry").toByteArray());
  restoreState(s.value("window/state").toByteArray());
  tabs_->setCurrentIndex(s.value("window/tab", RunsTab).toInt());
}

void MainWindow::closeEvent(QCloseEvent* e) {
  if (rc_->active()) {
    const auto answer = QMessageBox::question(
        this, tr("A run is training"),
        tr("Stop the run? It finishes its current step and saves a checkpoint; you can resume it later."));
    if (answer != QMessageBox::Yes) return e->ignore();
  }
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  s.setValue("window/tab", tabs_->currentIndex());
  s.setValue("workspace", workspace_);
  s.setValue("run", current_run_);
  e->accept();  // ~RunController stops the run (it saves) and joins
}

}  // namespace aha::studio
