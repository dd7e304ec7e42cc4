// The "Reasoning" tab: a run's chains of thought. A step slider through the steps that
// recorded traces, the step's traces in a filterable table (or the hits of a full-text
// search), the selected trace's full text highlighted (<think>/<answer>, aha, mixed
// language) with its rewards, its GRPO group side by side, the run's aha timeline, and
// the live generation streamed token by token.
//
// Store reads happen on the UI thread: one step is a few dozen rows, read in
// milliseconds; nothing here ever waits on training.
#pragma once
#include <QString>
#include <QWidget>
#include <utility>
#include <vector>

#include "views/models/run_controller.h"
#include "views/models/trace_model.h"

class QCheckBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QSlider;
class QTableView;
class QTabWidget;

namespace aha::studio {

class GroupView;
class LiveReasoningView;
class TraceTextView;

class InspectorView : public QWidget {
  Q_OBJECT
 public:
  explicit InspectorView(QWidget* parent = nullptr);
  // Shows run_dir's traces: its trace steps on the slider (the last one selected) and its
  // aha timeline. An unreadable run shows its error and an empty table.
  void setRun(const QString& run_dir);
  QString runDir() const { return run_dir_; }
  TraceModel* traceModel() const { return model_; }
  TraceFilterModel* filterModel() const { return filter_; }

 public slots:
  void appendTokens(const aha::studio::TokenPieces& pieces);  // the live stream
  // Selects a trace of this run wherever it is: its step on the slider, its row in the
  // table (filters and search are cleared if they hide it). Unknown id: nothing happens.
  void jumpToTrace(qint64 trace_id);
  // Re-reads the steps (new ones appear while a run trains); stays on the shown step
  // unless that was the last one, then follows the newest.
  void refreshSteps();

 private:
  void showStep(int slider_index);
  void runSearch();
  void applyFilters();
  void showSelected();
  void loadAhaTimeline();
  void selectTraceRow(qint64 trace_id);
  void selectProxyRow(int row);
  QWidget* buildControls();
  QWidget* buildDetail();

  QString run_dir_;
  std::vector<std::pair<std::string, int64_t>> steps_;
  std::vector<aha::RunStoreReader::AhaMoment> moments_;
  TraceModel* model_;
  TraceFilterModel* filter_;
  QSlider* slider_;
  QLabel* step_label_;
  QLineEdit* search_;
  QLabel* search_error_;
  QCheckBox *correct_, *wrong_, *aha_, *mixed_, *truncated_;
  QTableView* table_;
  QListWidget* timeline_;
  QTabWidget* tabs_;
  TraceTextView* text_;
  QLabel* rewards_;
  GroupView* group_;
  LiveReasoningView* live_;
};

}  // namespace aha::studio
