#include "views/models/run_list_model.h"

#include <QDateTime>
#include <QDir>
#include <QColor>
#include <QFont>
#include <QHash>
#include <cmath>

#include "engine/store.h"

namespace aha::studio {

namespace {
// The headline number of each kind, whichever the run's stages recorded last.
double first_of(const RunRow& r, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    const double v = r.metric(n);
    if (!std::isnan(v)) return v;
  }
  return std::nan("");
}
// Held-out LM loss (pretrain / SFT); GRPO's "loss" is a surrogate near 0, not comparable.
double loss_of(const RunRow& r) {
  const double e = r.metric("eval_loss");
  return !std::isnan(e) || r.stage == "grpo" ? e : r.metric("loss");
}
double reward_of(const RunRow& r) { return first_of(r, {"reward"}); }
double accuracy_of(const RunRow& r) {
  for (const auto& [k, v] : r.latest)  // held-out pass@1 of any task, else training accuracy
    if (k.rfind("eval/", 0) == 0 && k.size() > 7 && k.compare(k.size() - 7, 7, "/pass@1") == 0) return v;
  return first_of(r, {"accuracy"});
}
QVariant number(double v, int decimals) {
  return std::isnan(v) ? QVariant(QStringLiteral("–")) : QVariant(QString::number(v, 'f', decimals));
}
}  // namespace

RunListModel::RunListModel(QObject* parent) : QAbstractTableModel(parent) {}

int RunListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : rows_.size(); }
int RunListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunListModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* names[] = {"Run", "Status", "Stage", "Progress", "Step", "Eval loss", "Reward", "Pass@1", "Tags", "Notes", "Created"};
  return section >= 0 && section < ColumnCount ? QString(names[section]) : QVariant();
}

Qt::ItemFlags RunListModel::flags(const QModelIndex& index) const {
  if (!index.isValid()) return Qt::NoItemFlags;
  Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemNeverHasChildren;
  const RunRow& r = rows_[index.row()];
  if ((index.column() == Tags || index.column() == Notes) && r.status != "unreadable") f |= Qt::ItemIsEditable;
  return f;
}

QVariant RunListModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const RunRow& r = rows_[index.row()];
  switch (role) {
    case RunDirRole: return r.dir;
    case StatusRole: return r.status;
    case ProgressRole: return r.progress();
    case Qt::ToolTipRole:
      if (!r.error.isEmpty()) return r.error;
      return QString("%1 — %2").arg(r.name, r.dir);
    case Qt::EditRole:
      if (index.column() == Tags) return r.tags.join(", ");
      if (index.column() == Notes) return r.notes;
      return {};
    case Qt::ForegroundRole:
      if (index.column() == Status && (r.status == "failed" || r.status == "unreadable")) return QColor(0xcf, 0x22, 0x2e);
      return {};
    case Qt::FontRole:
      if (index.column() == Name) { QFont f; f.setBold(r.status == "running"); return f; }
      return {};
    case SortRole:
      switch (index.column()) {
        case Progress: return r.progress();
        case Step: return r.step;
        case Loss: { const double v = loss_of(r); return std::isnan(v) ? 1e300 : v; }
        case Reward: { const double v = reward_of(r); return std::isnan(v) ? -1e300 : v; }
        case Accuracy: { const double v = accuracy_of(r); return std::isnan(v) ? -1e300 : v; }
        case Created: return r.created_at;
        default: return data(index, Qt::DisplayRole);
      }
    case Qt::DisplayRole:
      switch (index.column()) {
        case Name: return QDir(r.dir).dirName();  // unique; the config's name is in the tooltip
        case Status:  // a failed run says why right there (the whole message in the tooltip)
          if (!r.error.isEmpty() && (r.status == "failed" || r.status == "unreadable")) {
            const QString first = r.error.section('\n', 0, 0);
            return r.status + ": " + (first.size() > 80 ? first.left(77) + "…" : first);
          }
          return r.status;
        case Stage: return r.stage;
        case Progress: return r.steps_total > 0 ? QString::number(100.0 * r.progress(), 'f', 0) + "%" : QString("–");
        case Step: return r.step;
        case Loss: return number(loss_of(r), 4);
        case Reward: return number(reward_of(r), 3);
        case Accuracy: return number(accuracy_of(r), 3);
        case Tags: return r.tags.join(", ");
        case Notes: return r.notes.section('\n', 0, 0);
        case Created:
          return r.created_at > 0 ? QDateTime::fromSecsSinceEpoch(qint64(r.created_at)).toString("yyyy-MM-dd hh:mm")
                                  : QString();
      }
      return {};
    default: return {};
  }
}

QStringList RunListModel::parseTags(const QString& text) {
  QStringList out;
  for (const QString& t : text.split(',')) {
    const QString s = t.trimmed();
    if (!s.isEmpty() && !out.contains(s)) out << s;
  }
  return out;
}

bool RunListModel::setData(const QModelIndex& index, const QVariant& value, int role) {
  if (role != Qt::EditRole || !(flags(index) & Qt::ItemIsEditable)) return false;
  RunRow& r = rows_[index.row()];
  QStringList tags = r.tags;
  QString notes = r.notes;
  if (index.column() == Tags) tags = parseTags(value.toString());
  else notes = value.toString();
  std::vector<std::string> t;
  for (const QString& s : tags) t.push_back(s.toStdString());
  try {
    annotate_run(r.dir.toStdString(), t, notes.toStdString());
  } catch (const std::exception& e) {
    emit editFailed(QString("%1: could not save: %2").arg(r.name, QString::fromUtf8(e.what())));
    return false;
  }
  r.tags = tags;
  r.notes = notes;
  emit dataChanged(index, index, {Qt::DisplayRole, Qt::EditRole});
  return true;
}

void RunListModel::setRuns(const RunRows& fresh) {
  QHash<QString, int> incoming;
  for (int i = 0; i < fresh.size(); i++) incoming.insert(fresh[i].dir, i);
  // removals first, from the bottom so indices stay valid
  for (int i = rows_.size() - 1; i >= 0; i--) {
    if (incoming.contains(rows_[i].dir)) continue;
    beginRemoveRows({}, i, i);
    rows_.removeAt(i);
    endRemoveRows();
  }
  QHash<QString, int> present;
  for (int i = 0; i < rows_.size(); i++) present.insert(rows_[i].dir, i);
  for (const RunRow& r : fresh) {
    auto it = present.find(r.dir);
    if (it == present.end()) {
      beginInsertRows({}, rows_.size(), rows_.size());
      rows_.push_back(r);
      endInsertRows();
    } else if (!(rows_[*it] == r)) {
      rows_[*it] = r;
      emit dataChanged(index(*it, 0), index(*it, ColumnCount - 1));
    }
  }
}

const RunRow* RunListModel::run(int row) const { return row >= 0 && row < rows_.size() ? &rows_[row] : nullptr; }

int RunListModel::rowOf(const QString& dir) const {
  for (int i = 0; i < rows_.size(); i++)
    if (rows_[i].dir == dir) return i;
  return -1;
}

}  // namespace aha::studio
