// The Compare tab, for two or more runs: one metric overlaid (a colour per run), the
// configuration keys that differ (nothing else), and the same prompt's completions from
// two runs — or two steps of one run — side by side with a word-level diff.
#pragma once
#include <QStringList>
#include <QWidget>
#include <vector>

#include "engine/store.h"
#include "views/chart_panel.h"
#include "views/models/config_diff.h"
#include "views/models/word_diff.h"

class QComboBox;
class QLabel;
class QListWidget;
class QTableView;
class QTextEdit;

namespace aha::studio {

class CompareView : public QWidget {
  Q_OBJECT
 public:
  explicit CompareView(QWidget* parent = nullptr);
  void setRuns(const QStringList& run_dirs);

  QStringList runs() const { return run_dirs_; }
  ChartPanel* overlay() const { return overlay_; }
  void setMetric(const QString& metric);  // one of metrics()
  QStringList metrics() const;             // every series of any of the runs
  ConfigDiffModel* configDiff() const { return config_diff_; }
  QTableView* configTable() const { return config_table_; }

  // Trace comparison. A side is a run (index into runs()) and one of its trace steps
  // (index into traceSteps(run)); the prompts offered are those both sides have.
  std::vector<std::pair<std::string, int64_t>> traceSteps(int run) const;
  void setTraceSide(int side, int run, int step_index);  // side 0 = left, 1 = right
  QStringList commonPrompts() const;
  void showPrompt(int index);  // into commonPrompts()
  const DiffSegments& traceDiff() const { return diff_; }
  // The two completions shown (the first sample of the prompt's group on each side).
  QString leftCompletion() const { return left_completion_; }
  QString rightCompletion() const { return right_completion_; }
  QTextEdit* leftText() const { return left_text_; }
  QTextEdit* rightText() const { return right_text_; }

 private:
  struct Side {
    int run = -1, step_index = -1;
    QComboBox *run_box = nullptr, *step_box = nullptr;
    QLabel* header = nullptr;
    std::vector<aha::TraceRow> traces;
  };
  QWidget* buildTraceArea();
  void fillStepBox(Side& s);
  void loadSide(Side& s);
  void refreshPrompts();

  QStringList run_dirs_, run_labels_;
  std::vector<std::vector<std::pair<std::string, int64_t>>> trace_steps_;  // per run
  SeriesSource* source_ = nullptr;
  ChartPanel* overlay_ = nullptr;
  QComboBox* metric_box_ = nullptr;
  ConfigDiffModel* config_diff_ = nullptr;
  QTableView* config_table_ = nullptr;
  QLabel* config_errors_ = nullptr;
  Side sides_[2];
  QListWidget* prompts_ = nullptr;
  QStringList common_prompts_;
  QTextEdit *left_text_ = nullptr, *right_text_ = nullptr;
  QString left_completion_, right_completion_;
  DiffSegments diff_;
  bool filling_ = false;  // combo boxes being refilled: ignore their signals
};

}  // namespace aha::studio
