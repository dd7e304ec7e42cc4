// The studio's main window: tabs over one workspace, wired together here and nowhere
// else. The engine runs in-process through the RunController (its own thread); runs that
// other `aha` processes write arrive through the WorkspaceWatcher (its own thread). The
// UI thread only paints and routes queued signals.
#pragma once
#include <QMainWindow>

#include "views/theme.h"

class QTabWidget;
class QLabel;
class QAction;

namespace aha::studio {

class RunController;
class WorkspaceWatcher;
class RunBrowserView;
class LauncherView;
class DashboardView;
class ExpertsView;
class EfficiencyView;
class InspectorView;
class CompareView;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  enum Tab { RunsTab, LaunchTab, DashboardTab, ExpertsTab, EfficiencyTab, ReasoningTab, CompareTab, TabCount };
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  void openWorkspace(const QString& dir);
  void openRun(const QString& run_dir);  // the run shown by dashboard, experts, efficiency, reasoning
  QString workspace() const { return workspace_; }
  QString currentRun() const { return current_run_; }
  QTabWidget* tabs() { return tabs_; }
  RunController* controller() { return rc_; }
  RunBrowserView* runs() { return runs_; }
  LauncherView* launcher() { return launcher_; }
  DashboardView* dashboard() { return dashboard_; }
  ExpertsView* experts() { return experts_; }
  EfficiencyView* efficiency() { return efficiency_; }
  InspectorView* inspector() { return inspector_; }
  CompareView* compare() { return compare_; }
  // Writes every chart of the current tab as FORMAT (png, svg, pdf) into dir; returns
  // the files written, or throws nothing and reports errors in the status bar.
  QStringList exportCharts(const QString& dir, const QString& format);
  void setTheme(Theme t);

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void buildMenus();
  void restoreSettings();
  void showMessage(const QString& text, bool error = false);
  QTabWidget* tabs_;
  RunController* rc_;
  WorkspaceWatcher* watcher_;
  RunBrowserView* runs_;
  LauncherView* launcher_;
  DashboardView* dashboard_;
  ExpertsView* experts_;
  EfficiencyView* efficiency_;
  InspectorView* inspector_;
  CompareView* compare_;
  QLabel *run_label_, *status_label_;
  QString workspace_, current_run_;
};

}  // namespace aha::studio
