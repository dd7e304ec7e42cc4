// The reasoning inspector's table: the traces of one run, either one (stage, step) or the
// hits of a full-text search. Each row keeps its TraceRow and what the inspector derives
// from it once (markup flags, sample within its group), so filtering and sorting never
// re-parse completions. TraceFilterModel narrows it to correct / wrong / aha / mixed-
// language / truncated rows.
#pragma once
#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QStringList>
#include <string>
#include <vector>

#include "engine/store.h"
#include "views/models/csv_export.h"

Q_DECLARE_METATYPE(aha::TraceRow)

namespace aha::studio {

struct TraceEntry {
  aha::TraceRow row;
  int sample = -1;          // position in its group at that step (-1: not known, search hits)
  int length = 0;           // characters of the completion
  bool aha = false;         // the engine recorded at least one aha span
  bool mixed = false;       // the reasoning leaves English (a MixedLanguage span)
  QString preview;          // one line, whitespace collapsed
  double reward(const std::string& name) const;  // NaN when the trace has no such reward
  bool correct() const;     // accuracy > 0.5, as the step's "accuracy" metric counts it
  bool wrong() const;       // has an accuracy reward and is not correct
};

class TraceModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  // The fixed columns; reward columns other than accuracy/format/total come after Format,
  // one per reward name found in the rows (see columnField / rewardOfColumn).
  enum Field { Step, Stage, Split, Group, Sample, Accuracy, Format, ExtraReward, Total, Advantage, Length,
               Aha, LanguageShare, Truncated, Preview };
  // ExportRole: the value as CSV writes it (full completion, full precision).
  enum Role { TraceIdRole = Qt::UserRole + 1, TraceRowRole, SortRole, ExportRole = kExportRole };

  explicit TraceModel(QObject* parent = nullptr);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

  // Store reads (one step is a few dozen rows: fine on the UI thread). Each returns "" or
  // the error; on error the model keeps what it showed. A bad FTS query is such an error.
  QString loadStep(const QString& run_dir, const QString& stage, qint64 step);
  QString search(const QString& run_dir, const QString& fts_query, int limit = 200);
  void setRows(std::vector<aha::TraceRow> rows, bool whole_step);
  void clear();

  const TraceEntry* entry(int row) const;
  int rowOfTrace(qint64 trace_id) const;
  int column(Field f) const;                  // -1 if absent
  Field columnField(int column) const;
  QString rewardOfColumn(int column) const;   // the reward an ExtraReward column shows
  QStringList rewardNames() const;            // every reward name in the rows, sorted

 private:
  std::vector<TraceEntry> rows_;
  std::vector<std::pair<Field, QString>> columns_;  // field, reward name for ExtraReward
};

class TraceFilterModel : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  // Toggles: Aha, Mixed and Truncated each require their property. Correct and Wrong
  // exclude each other, so with both on the accuracy is not constrained (the user asked
  // for "either"); with none on, every row passes.
  enum Filter { Correct = 1, Wrong = 2, AhaOnly = 4, MixedOnly = 8, TruncatedOnly = 16 };
  Q_DECLARE_FLAGS(Filters, Filter)

  explicit TraceFilterModel(QObject* parent = nullptr);
  void setFilters(Filters f);
  Filters filters() const { return filters_; }
  static bool accepts(const TraceEntry& e, Filters f);

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;

 private:
  Filters filters_;
};

// The aha timeline of a whole run: every trace with an aha span. Returns the error, or "".
QString load_aha_moments(const QString& run_dir, std::vector<aha::RunStoreReader::AhaMoment>& out);


}  // namespace aha::studio

Q_DECLARE_OPERATORS_FOR_FLAGS(aha::studio::TraceFilterModel::Filters)
