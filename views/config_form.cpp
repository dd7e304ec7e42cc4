#include "views/config_form.h"

#include <QCheckBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QTabWidget>
#include <QVBoxLayout>

#include "engine/error.h"
#include "views/theme.h"

namespace aha::studio {

namespace {
QString full_key(const aha::ConfigField& f) {
  return QString::fromStdString(f.table.empty() ? f.key : f.table + "." + f.key);
}
// "tags[1]" → "tags": an element's error belongs to its array's field.
QString field_of(const std::string& key) {
  QString k = QString::fromStdString(key);
  const int b = k.indexOf('[');
  return b < 0 ? k : k.left(b);
}
}  // namespace

ConfigForm::ConfigForm(QWidget* parent) : QWidget(parent) {
  tabs_ = new QTabWidget;
  general_ = new QLabel;
  general_->setWordWrap(true);
  general_->setObjectName("configGeneralError");
  general_->hide();
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(0, 0, 0, 0);
  lay->addWidget(general_);
  lay->addWidget(tabs_, 1);
}

void ConfigForm::setBase(const aha::RunConfig& base) {
  base_ = base;
  fields_.clear();
  while (tabs_->count()) {
    QWidget* w = tabs_->widget(0);
    tabs_->removeTab(0);
    w->deleteLater();
  }
  QMap<QString, QFormLayout*> forms;
  const QColor err = theme_colors().error;
  for (const aha::ConfigField& spec : aha::config_fields(base)) {
    const QString table = spec.table.empty() ? tr("run") : QString::fromStdString(spec.table);
    if (!forms.contains(table)) {
      auto* page = new QWidget;
      auto* form = new QFormLayout(page);
      form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
      auto* scroll = new QScrollArea;
      scroll->setWidget(page);
      scroll->setWidgetResizable(true);
      tabs_->addTab(scroll, table);
      forms[table] = form;
    }
    Field f;
    f.spec = spec;
    const QString key = full_key(spec);
    if (spec.type == "bool") {
      auto* cb = new QCheckBox;
      cb->setChecked(spec.value == "true");
      connect(cb, &QCheckBox::toggled, this, &ConfigForm::edited);
      f.editor = cb;
    } else {
      auto* le = new QLineEdit(QString::fromStdString(spec.value));
      connect(le, &QLineEdit::textEdited, this, &ConfigForm::edited);
      f.editor = le;
    }
    f.editor->setObjectName(key);
    f.editor->setToolTip(key);
    f.error = new QLabel;
    f.error->setStyleSheet(QString("color: %1;").arg(err.name()));
    f.error->setWordWrap(true);
    f.error->hide();
    auto* cell = new QWidget;
    auto* row = new QVBoxLayout(cell);
    row->setContentsMargins(0, 0, 0, 0);
    row->setSpacing(1);
    row->addWidget(f.editor);
    row->addWidget(f.error);
    forms[table]->addRow(QString::fromStdString(spec.key), cell);
    fields_.insert(key, f);
  }
  clearErrors();
}

QString ConfigForm::textOf(const Field& f) const {
  if (auto* cb = qobject_cast<QCheckBox*>(f.editor)) return cb->isChecked() ? "true" : "false";
  return static_cast<QLineEdit*>(f.editor)->text().trimmed();
}

QStringList ConfigForm::assignments() const {
  QStringList out;
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    const QString t = textOf(*it);
    if (t != QString::fromStdString(it->spec.value)) out << it.key() + "=" + t;
  }
  return out;
}

void ConfigForm::clearErrors() {
  for (Field& f : fields_) {
    f.error->clear();
    f.error->hide();
  }
  general_->clear();
  general_->hide();
}

std::optional<aha::RunConfig> ConfigForm::config() {
  clearErrors();
  std::vector<std::string> sets;
  for (const QString& a : assignments()) sets.push_back(a.toStdString());
  try {
    return aha::apply_overrides(base_, sets);
  } catch (const aha::ConfigError& e) {
    const QString msg = QString::fromUtf8(e.what());
    auto it = fields_.find(field_of(e.key()));
    if (it != fields_.end()) {
      // the message without its "--set k=v: k:" prefix: the field already says which key
      const QString prefix = QString::fromStdString(e.key()) + ": ";
      const int at = msg.indexOf(prefix);
      it->error->setText(at >= 0 ? msg.mid(at + prefix.size()) : msg);
      it->error->show();
      // bring the field's tab forward so the error is seen
      for (int i = 0; i < tabs_->count(); i++)
        if (tabs_->widget(i)->isAncestorOf(it->editor)) tabs_->setCurrentIndex(i);
    } else {
      general_->setText(msg);
      general_->setStyleSheet(QString("color: %1;").arg(theme_colors().error.name()));
      general_->show();
    }
  } catch (const aha::Error& e) {
    general_->setText(QString::fromUtf8(e.what()));
    general_->show();
  }
  return std::nullopt;
}

bool ConfigForm::setFieldText(const QString& key, const QString& text) {
  auto it = fields_.find(key);
  if (it == fields_.end()) return false;
  if (auto* cb = qobject_cast<QCheckBox*>(it->editor)) cb->setChecked(text == "true");
  else static_cast<QLineEdit*>(it->editor)->setText(text);
  emit edited();
  return true;
}

QString ConfigForm::fieldText(const QString& key) const {
  auto it = fields_.find(key);
  return it == fields_.end() ? QString() : textOf(*it);
}

QString ConfigForm::errorFor(const QString& key) const {
  auto it = fields_.find(key);
  return it == fields_.end() || it->error->isHidden() ? QString() : it->error->text();
}

QString ConfigForm::generalError() const { return general_->isHidden() ? QString() : general_->text(); }

}  // namespace aha::studio
