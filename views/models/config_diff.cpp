#include "views/models/config_diff.h"

#include <map>
#include <string>
#include <vector>

#include "engine/config.h"

namespace aha::studio {

namespace {
const QString kUnset = QStringLiteral("(unset)");
}

ConfigDiffModel::ConfigDiffModel(QObject* parent) : QAbstractTableModel(parent) {}

void ConfigDiffModel::setConfigs(const QStringList& labels, const QStringList& tomls) {
  beginResetModel();
  labels_ = labels;
  errors_.clear();
  rows_.clear();
  // key → value per run, keys in the first run's file order (then any others)
  std::vector<std::string> order;
  std::map<std::string, std::vector<QString>> values;
  const int n = static_cast<int>(tomls.size());
  for (int i = 0; i < n; i++) {
    try {
      const RunConfig cfg = parse_config(tomls[i].toStdString(), labels.value(i).toStdString());
      for (const ConfigField& f : config_fields(cfg)) {
        const std::string key = f.table.empty() ? f.key : f.table + "." + f.key;
        auto [it, fresh] = values.try_emplace(key, std::vector<QString>(n, kUnset));
        if (fresh) order.push_back(key);
        it->second[i] = QString::fromStdString(f.value);
      }
      errors_ << QString();
    } catch (const std::exception& e) {
      errors_ << QString::fromStdString(e.what());
    }
  }
  for (const std::string& key : order) {
    const std::vector<QString>& v = values[key];
    bool differs = false;
    for (int i = 1; i < n; i++) differs = differs || v[i] != v[0];
    if (differs) rows_.push_back({QString::fromStdString(key), QStringList(v.begin(), v.end())});
  }
  endResetModel();
}

int ConfigDiffModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int ConfigDiffModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : 1 + static_cast<int>(labels_.size());
}

QVariant ConfigDiffModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rows_.size() || index.column() >= columnCount()) return {};
  const Row& r = rows_[index.row()];
  if (role == DifferingKeyRole) return r.key;
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
  if (index.column() == 0) return r.key;
  return r.values.value(index.column() - 1);
}

QVariant ConfigDiffModel::headerData(int section, Qt::Orientation o, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (o == Qt::Vertical) return section + 1;
  if (section == 0) return tr("Key");
  return labels_.value(section - 1);
}

QStringList ConfigDiffModel::keys() const {
  QStringList k;
  for (const Row& r : rows_) k << r.key;
  return k;
}

}  // namespace aha::studio
