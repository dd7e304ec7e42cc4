// The "Runs" tab: every run of the workspace (live, from WorkspaceWatcher) with status,
// stage, progress, key metrics, tags and notes; text filter, status filter, sort by any
// column; tags and notes edited in place. Opening, comparing and resuming are requests
// the main window routes (this view runs nothing itself).
#pragma once
#include <QWidget>

#include "views/models/run_list_model.h"

class QLineEdit;
class QComboBox;
class QTableView;
class QLabel;
class QPushButton;
class QSortFilterProxyModel;

namespace aha::studio {

class RunBrowserView : public QWidget {
  Q_OBJECT
 public:
  explicit RunBrowserView(QWidget* parent = nullptr);
  RunListModel* model() { return model_; }
  QTableView* table() { return table_; }
  QStringList selectedRuns() const;
  // Writes the visible rows (filter and sort applied) as CSV; "" or an error message.
  QString exportCsv(const QString& path) const;

 public slots:
  void setRuns(const QString& workspace, const aha::studio::RunRows& rows);
  void setFilterText(const QString& text);

 signals:
  void runActivated(const QString& run_dir);           // double-click / Enter / "Open"
  void compareRequested(const QStringList& run_dirs);  // two or more selected
  void resumeRequested(const QString& run_dir);        // an interrupted or stopped run

 private:
  void updateButtons();
  RunListModel* model_;
  QSortFilterProxyModel* proxy_;
  QTableView* table_;
  QLineEdit* filter_;
  QComboBox* status_;
  QLabel* summary_;
  QPushButton *open_, *compare_, *resume_;
};

}  // namespace aha::studio
