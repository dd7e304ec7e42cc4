#include "views/models/trace_model.h"

#include <QSaveFile>
#include <QTextStream>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "views/models/trace_markup.h"

namespace aha::studio {

namespace {

const QString kNone = QStringLiteral("–");

QVariant number(double v, int decimals) {
  return std::isnan(v) ? QVariant(kNone) : QVariant(QString::number(v, 'f', decimals));
}

QString one_line(const QString& text, int max_chars) {
  QString s = text.simplified();
  if (s.size() > max_chars) s = s.left(max_chars - 1) + QChar(0x2026);
  return s;
}

TraceEntry make_entry(aha::TraceRow row) {
  TraceEntry e;
  const TraceMarkup m = mark_up_trace(row.completion, row.aha_spans_json);
  e.length = int(m.text.size());
  e.aha = m.has(SpanKind::Aha);
  // language_share alone cannot say it: reasoning without letters ("3 * 4 = 12") has a
  // share of 0 yet is not mixed; a MixedLanguage span is exactly the engine's off_target("en")
  e.mixed = m.has(SpanKind::MixedLanguage);
  e.preview = one_line(m.text, 160);
  e.row = std::move(row);
  return e;
}

}  // namespace

double TraceEntry::reward(const std::string& name) const {
  const auto it = row.rewards.find(name);
  return it == row.rewards.end() ? std::nan("") : it->second;
}
bool TraceEntry::correct() const { return reward("accuracy") > 0.5; }
bool TraceEntry::wrong() const {
  const double a = reward("accuracy");
  return !std::isnan(a) && a <= 0.5;
}

TraceModel::TraceModel(QObject* parent) : QAbstractTableModel(parent) { setRows({}, true); }

int TraceModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }
int TraceModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(columns_.size()); }

const TraceEntry* TraceModel::entry(int row) const {
  return row >= 0 && row < int(rows_.size()) ? &rows_[size_t(row)] : nullptr;
}

int TraceModel::rowOfTrace(qint64 trace_id) const {
  for (size_t i = 0; i < rows_.size(); i++)
    if (rows_[i].row.id == trace_id) return int(i);
  return -1;
}

int TraceModel::column(Field f) const {
  for (size_t i = 0; i < columns_.size(); i++)
    if (columns_[i].first == f) return int(i);
  return -1;
}

TraceModel::Field TraceModel::columnField(int c) const { return columns_.at(size_t(c)).first; }
QString TraceModel::rewardOfColumn(int c) const {
  return c >= 0 && c < int(columns_.size()) ? columns_[size_t(c)].second : QString();
}

QStringList TraceModel::rewardNames() const {
  std::set<std::string> names;
  for (const TraceEntry& e : rows_)
    for (const auto& [k, v] : e.row.rewards) names.insert(k);
  QStringList out;
  for (const std::string& n : names) out << QString::fromStdString(n);
  return out;
}

void TraceModel::setRows(std::vector<aha::TraceRow> rows, bool whole_step) {
  beginResetModel();
  rows_.clear();
  rows_.reserve(rows.size());
  // within a step, a group's completions are its samples in recording order (ids grow)
  std::sort(rows.begin(), rows.end(), [](const TraceRow& a, const TraceRow& b) { return a.id < b.id; });
  std::map<std::tuple<std::string, int64_t, int64_t, std::string>, int> seen;
  for (TraceRow& r : rows) {
    TraceEntry e = make_entry(std::move(r));
    if (whole_step) e.sample = seen[{e.row.stage, e.row.step, e.row.group_id, e.row.split}]++;
    rows_.push_back(std::move(e));
  }
  columns_ = {{Step, {}}, {Stage, {}}, {Split, {}}, {Group, {}}, {Sample, {}}, {Accuracy, {}}, {Format, {}}};
  for (const QString& n : rewardNames())
    if (n != "accuracy" && n != "format" && n != "total") columns_.push_back({ExtraReward, n});
  for (Field f : {Total, Advantage, Length, Aha, LanguageShare, Truncated, Preview}) columns_.push_back({f, {}});
  endResetModel();
}

void TraceModel::clear() { setRows({}, true); }

QString TraceModel::loadStep(const QString& run_dir, const QString& stage, qint64 step) {
  try {
    const auto r = RunStoreReader::open_checked(run_dir.toStdString(), false, false);
    setRows(r.traces(step, stage.toStdString(), 100000), true);
  } catch (const std::exception& e) {
    return QString::fromUtf8(e.what());
  }
  return {};
}

QString TraceModel::search(const QString& run_dir, const QString& query, int limit) {
  try {
    const auto r = RunStoreReader::open_checked(run_dir.toStdString(), false, false);
    setRows(r.search_traces(query.toStdString(), limit), false);
  } catch (const std::exception& e) {  // InvalidArgument: the query's syntax, verbatim
    return QString::fromUtf8(e.what());
  }
  return {};
}

QVariant TraceModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= int(columns_.size())) return {};
  switch (columns_[size_t(section)].first) {
    case Step: return QStringLiteral("Step");
    case Stage: return QStringLiteral("Stage");
    case Split: return QStringLiteral("Split");
    case Group: return QStringLiteral("Group");
    case Sample: return QStringLiteral("Sample");
    case Accuracy: return QStringLiteral("Accuracy");
    case Format: return QStringLiteral("Format");
    case ExtraReward: {
      QString n = columns_[size_t(section)].second;
      if (!n.isEmpty()) n[0] = n[0].toUpper();
      return n;
    }
    case Total: return QStringLiteral("Reward");
    case Advantage: return QStringLiteral("Advantage");
    case Length: return QStringLiteral("Length");
    case Aha: return QStringLiteral("Aha");
    case LanguageShare: return QStringLiteral("English share");
    case Truncated: return QStringLiteral("Truncated");
    case Preview: return QStringLiteral("Completion");
  }
  return {};
}

QVariant TraceModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const TraceEntry& e = rows_[size_t(index.row())];
  const TraceRow& r = e.row;
  const Field f = columns_[size_t(index.column())].first;
  const auto reward_here = [&]() -> double {
    switch (f) {
      case Accuracy: return e.reward("accuracy");
      case Format: return e.reward("format");
      case Total: return e.reward("total");
      default: return e.reward(columns_[size_t(index.column())].second.toStdString());
    }
  };
  switch (role) {
    case TraceIdRole: return QVariant::fromValue<qint64>(r.id);
    case TraceRowRole: return QVariant::fromValue(r);
    case Qt::ToolTipRole: return f == Preview ? QVariant(one_line(QString::fromStdString(r.prompt), 300)) : QVariant();
    case SortRole:
      switch (f) {
        case Step: return QVariant::fromValue<qint64>(r.step);
        case Group: return QVariant::fromValue<qint64>(r.group_id);
        case Sample: return e.sample;
        case Accuracy: case Format: case ExtraReward: case Total: {
          const double v = reward_here();
          return std::isnan(v) ? -1e300 : v;
        }
        case Advantage: return r.advantage;
        case Length: return e.length;
        case Aha: return int(e.aha);
        case LanguageShare: return r.language_share;
        case Truncated: return int(r.truncated);
        default: return data(index, Qt::DisplayRole);
      }
    case ExportRole:
      switch (f) {
        case Preview: return QString::fromStdString(r.completion);
        case Accuracy: case Format: case ExtraReward: case Total: {
          const double v = reward_here();
          return std::isnan(v) ? QVariant(QString()) : QVariant(QString::number(v, 'g', 17));
        }
        case Advantage: return QString::number(r.advantage, 'g', 17);
        case LanguageShare: return QString::number(r.language_share, 'g', 17);
        case Sample: return e.sample < 0 ? QVariant(QString()) : QVariant(e.sample);
        default: return data(index, Qt::DisplayRole);
      }
    case Qt::DisplayRole:
      switch (f) {
        case Step: return QVariant::fromValue<qint64>(r.step);
        case Stage: return QString::fromStdString(r.stage);
        case Split: return QString::fromStdString(r.split);
        case Group: return QVariant::fromValue<qint64>(r.group_id);
        case Sample: return e.sample < 0 ? QVariant(kNone) : QVariant(e.sample);
        case Accuracy: case Format: case ExtraReward: case Total: return number(reward_here(), 3);
        case Advantage: return QString::number(r.advantage, 'f', 3);
        case Length: return e.length;
        case Aha: return e.aha ? QStringLiteral("yes") : QStringLiteral("no");
        case LanguageShare: return QString::number(r.language_share, 'f', 2);
        case Truncated: return r.truncated ? QStringLiteral("yes") : QStringLiteral("no");
        case Preview: return e.preview;
      }
      return {};
    default: return {};
  }
}

// ---- filter ----------------------------------------------------------------------------

TraceFilterModel::TraceFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(TraceModel::SortRole);
}

void TraceFilterModel::setFilters(Filters f) {
  if (f == filters_) return;
  filters_ = f;
  invalidateRowsFilter();
}

bool TraceFilterModel::accepts(const TraceEntry& e, Filters f) {
  const bool c = f.testFlag(Correct), w = f.testFlag(Wrong);
  if (c != w && !(c ? e.correct() : e.wrong())) return false;
  if (f.testFlag(AhaOnly) && !e.aha) return false;
  if (f.testFlag(MixedOnly) && !e.mixed) return false;
  if (f.testFlag(TruncatedOnly) && !e.row.truncated) return false;
  return true;
}

bool TraceFilterModel::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
  const auto* m = qobject_cast<const TraceModel*>(sourceModel());
  const TraceEntry* e = m && !source_parent.isValid() ? m->entry(source_row) : nullptr;
  return e ? accepts(*e, filters_) : true;
}

// ---- whole run, export -------------------------------------------------------------------

QString load_aha_moments(const QString& run_dir, std::vector<aha::RunStoreReader::AhaMoment>& out) {
  try {
    out = RunStoreReader::open_checked(run_dir.toStdString(), false, false).aha_moments();
  } catch (const std::exception& e) {
    out.clear();
    return QString::fromUtf8(e.what());
  }
  return {};
}


}  // namespace aha::studio
