// The Compare tab's "what is different" table: of two or more runs' configurations, only
// the keys whose values differ, one row per key and one column per run. Each config is
// read with the engine's own parser (aha::parse_config) and listed with config_fields,
// so a key is compared by its value as the engine understands it (3 and 3.0 differ only
// if the engine's types do), and a key a run lacks shows as "(unset)".
#pragma once
#include <QAbstractTableModel>
#include <QStringList>
#include <QVector>

namespace aha::studio {

class ConfigDiffModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Role { DifferingKeyRole = Qt::UserRole + 1 };
  explicit ConfigDiffModel(QObject* parent = nullptr);

  // labels: the column headers (run names); tomls: each run's config TOML text.
  // A config that does not parse gets its error in errors() and an empty column.
  void setConfigs(const QStringList& labels, const QStringList& tomls);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

  QStringList keys() const;      // the differing keys, "table.key" ("name" at top level)
  QStringList errors() const { return errors_; }  // per run: "" or the parse error

 private:
  struct Row { QString key; QStringList values; };
  QStringList labels_, errors_;
  QVector<Row> rows_;
};

}  // namespace aha::studio
