// The run browser's model: one row per run of the workspace. setRuns() merges a fresh
// scan into the rows already shown (rows keep their identity by directory), so views and
// selections survive the live refresh. Tags and notes are editable and written back to
// the run's database (annotate_run).
#pragma once
#include <QAbstractTableModel>

#include "views/models/run_row.h"

namespace aha::studio {

class RunListModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Name, Status, Stage, Progress, Step, Loss, Reward, Accuracy, Tags, Notes, Created, ColumnCount };
  enum Role { RunDirRole = Qt::UserRole + 1, SortRole, StatusRole, ProgressRole };

  explicit RunListModel(QObject* parent = nullptr);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;

  // Merges a scan: changed rows emit dataChanged, new runs are inserted, runs that are
  // gone are removed.
  void setRuns(const RunRows& rows);
  const RunRow* run(int row) const;
  int rowOf(const QString& dir) const;

  // Tags as the user types them: comma-separated, trimmed, empty ones dropped.
  static QStringList parseTags(const QString& text);

 signals:
  // annotate_run failed (a read-only workspace, a deleted run): the message says why.
  void editFailed(const QString& message);

 private:
  RunRows rows_;
};

}  // namespace aha::studio
