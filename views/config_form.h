// A form over every key of a run configuration, built from aha::config_fields (so a new
// engine key appears here without UI code). Edits go through aha::apply_overrides — the
// same strict validation as `aha train --set` — and an error is shown beside the field
// it names (ConfigError::key), never in a dialog that loses the user's edits.
#pragma once
#include <QMap>
#include <QWidget>
#include <optional>

#include "engine/config.h"

class QLabel;
class QTabWidget;

namespace aha::studio {

class ConfigForm : public QWidget {
  Q_OBJECT
 public:
  explicit ConfigForm(QWidget* parent = nullptr);
  // Shows `base` (a preset or a file) and clears the edits.
  void setBase(const aha::RunConfig& base);
  // The edits as TABLE.KEY=VALUE assignments (only fields that differ from the base).
  QStringList assignments() const;
  // The validated configuration, or nullopt with the errors shown beside their fields.
  std::optional<aha::RunConfig> config();
  // Sets one field's text as if the user typed it (tests, presets of a study).
  bool setFieldText(const QString& key, const QString& text);
  QString fieldText(const QString& key) const;
  QString errorFor(const QString& key) const;  // "" when the field is valid
  QString generalError() const;                 // an error not tied to one field

 signals:
  void edited();  // any field changed (debounce before validating)

 private:
  struct Field {
    aha::ConfigField spec;
    QWidget* editor = nullptr;
    QLabel* error = nullptr;
  };
  QString textOf(const Field& f) const;
  void clearErrors();
  aha::RunConfig base_;
  QMap<QString, Field> fields_;  // key "table.key" (or "key" at top level)
  QTabWidget* tabs_;
  QLabel* general_;
};

}  // namespace aha::studio
