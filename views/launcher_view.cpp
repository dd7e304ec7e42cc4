#include "views/launcher_view.h"

#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSaveFile>
#include <QTimer>
#include <QApplication>
#include <QVBoxLayout>

#include "engine/error.h"
#include "engine/model.h"
#include "kernels/cpu/ops.h"
#include "views/config_form.h"
#include "views/models/background.h"
#include "views/models/run_controller.h"
#include "views/theme.h"

namespace aha::studio {

ModelCost model_cost(const aha::RunConfig& cfg) {
  const aha::Model m(cfg.model, aha::kernels::cpu_ops());
  ModelCost c;
  c.params_total = double(m.params_total());
  c.params_active = double(m.params_active());
  c.flops_per_token = m.flops_per_token(cfg.train.seq_len);
  c.kv_mla = m.kv_bytes_per_token(true);
  c.kv_mha = m.kv_bytes_per_token(false);
  return c;
}

namespace {
QString human(double v, const char* unit = "") {
  const char* sfx[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (std::abs(v) >= 1000 && i < 5) v /= 1000, i++;
  return QString::number(v, 'f', v < 10 ? 2 : 1) + " " + sfx[i] + unit;
}
}  // namespace

LauncherView::LauncherView(RunController* controller, QWidget* parent) : QWidget(parent), rc_(controller) {
  preset_ = new QComboBox;
  preset_->setObjectName("presetCombo");
  for (const std::string& p : aha::preset_names()) preset_->addItem(QString::fromStdString(p));
  open_ = new QPushButton(tr("Open TOML…"));
  save_ = new QPushButton(tr("Save TOML…"));
  form_ = new ConfigForm;
  run_dir_ = new QLineEdit;
  run_dir_->setObjectName("runDir");
  cost_ = new QLabel;
  cost_->setObjectName("modelCost");
  cost_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_ = new QLabel;
  status_->setWordWrap(true);
  status_->setObjectName("launchStatus");
  start_ = new QPushButton(tr("Start"));
  pause_ = new QPushButton(tr("Pause"));
  resume_ = new QPushButton(tr("Resume"));
  stop_ = new QPushButton(tr("Stop"));
  start_->setToolTip(tr("Start the run (Ctrl+R)"));
  stop_->setToolTip(tr("Finish the current step, save a checkpoint and stop"));
  debounce_ = new QTimer(this);
  debounce_->setSingleShot(true);
  debounce_->setInterval(250);

  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Preset")));
  top->addWidget(preset_);
  top->addWidget(open_);
  top->addWidget(save_);
  top->addStretch(1);
  auto* bottom = new QFormLayout;
  bottom->addRow(tr("Run directory"), run_dir_);
  bottom->addRow(tr("Model"), cost_);
  auto* buttons = new QHBoxLayout;
  for (QPushButton* b : {start_, pause_, resume_, stop_}) buttons->addWidget(b);
  buttons->addWidget(status_, 1);
  auto* lay = new QVBoxLayout(this);
  lay->addLayout(top);
  lay->addWidget(form_, 1);
  lay->addLayout(bottom);
  lay->addLayout(buttons);

  connect(preset_, &QComboBox::textActivated, this, &LauncherView::choosePreset);
  connect(form_, &ConfigForm::edited, debounce_, qOverload<>(&QTimer::start));
  connect(debounce_, &QTimer::timeout, this, &LauncherView::validateNow);
  connect(run_dir_, &QLineEdit::textEdited, this, [this] { run_dir_edited_ = true; });
  connect(open_, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open a run configuration"), workspace_, tr("TOML (*.toml)"));
    if (!f.isEmpty()) openConfigFile(f);
  });
  connect(save_, &QPushButton::clicked, this, [this] {
    const auto cfg = form_->config();
    if (!cfg) return setStatus(tr("Fix the configuration before saving it."), true);
    const QString f = QFileDialog::getSaveFileName(this, tr("Save the configuration"), workspace_, tr("TOML (*.toml)"));
    if (f.isEmpty()) return;
    QSaveFile out(f);
    if (!out.open(QIODevice::WriteOnly) || out.write(QByteArray::fromStdString(aha::to_toml(*cfg))) < 0 || !out.commit())
      return setStatus(tr("Could not save %1: %2").arg(f, out.errorString()), true);
    setStatus(tr("Saved %1").arg(f));
  });
  connect(start_, &QPushButton::clicked, this, &LauncherView::startRun);
  connect(pause_, &QPushButton::clicked, rc_, &RunController::pause);
  connect(resume_, &QPushButton::clicked, rc_, &RunController::resume);
  connect(stop_, &QPushButton::clicked, rc_, &RunController::stop);
  connect(rc_, &RunController::statusChanged, this, [this](const QString& s) {
    setStatus(tr("Run %1: %2").arg(QDir(rc_->runDir()).dirName(), s));
    updateButtons();
  });
  connect(rc_, &RunController::failed, this, [this](const QString& m) { setStatus(m, true); });
  connect(rc_, &RunController::finished, this, &LauncherView::updateButtons);

  const int q = preset_->findText("quickstart");
  if (q >= 0) preset_->setCurrentIndex(q);
  choosePreset(preset_->currentText());
  updateButtons();
}

void LauncherView::setWorkspace(const QString& dir) {
  workspace_ = dir;
  run_dir_edited_ = false;
  validateNow();
}

void LauncherView::choosePreset(const QString& name) {
  try {
    form_->setBase(aha::load_config(name.toStdString()));
    setStatus(tr("Preset %1").arg(name));
  } catch (const aha::Error& e) {
    setStatus(QString::fromUtf8(e.what()), true);
  }
  run_dir_edited_ = false;
  validateNow();
}

bool LauncherView::openConfigFile(const QString& path) {
  try {
    form_->setBase(aha::load_config(path.toStdString()));
  } catch (const aha::Error& e) {
    setStatus(QString::fromUtf8(e.what()), true);  // the form keeps what it had
    return false;
  }
  setStatus(tr("Loaded %1").arg(path));
  run_dir_edited_ = false;
  validateNow();
  return true;
}

void LauncherView::validateNow() {
  const auto cfg = form_->config();
  if (!cfg) {
    cost_->setText(tr("— (the configuration has an error)"));
    valid_ = false;
    updateButtons();
    return;
  }
  valid_ = true;
  if (!run_dir_edited_ && !workspace_.isEmpty())
    run_dir_->setText(QDir(workspace_).filePath(QString::fromStdString(cfg->name) + "-" +
                                                QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss")));
  cost_->setText(tr("computing…"));
  const int gen = ++cost_generation_;
  run_in_background<QString>(this, [cfg = *cfg] {
    try {
      const ModelCost c = model_cost(cfg);
      return LauncherView::tr("%1 parameters, %2 active per token · %3 training FLOPs per token · KV cache %4 per "
                              "token (MLA) vs %5 (MHA equivalent, %6× larger)")
          .arg(human(c.params_total), human(c.params_active), human(c.flops_per_token, "FLOP"), human(c.kv_mla, "B"),
               human(c.kv_mha, "B"), QString::number(c.kv_mha / c.kv_mla, 'f', 1));
    } catch (const std::exception& e) {
      return LauncherView::tr("cannot build this model: %1").arg(QString::fromUtf8(e.what()));
    }
  }, [this, gen](QString text) {
    if (gen != cost_generation_) return;  // a newer edit superseded it
    cost_->setText(text);
    emit costUpdated();
  });
  updateButtons();
}

void LauncherView::startRun() {
  const auto cfg = form_->config();
  if (!cfg) return setStatus(tr("The configuration has an error (see the highlighted field)."), true);
  const QString dir = run_dir_->text().trimmed();
  if (dir.isEmpty()) return setStatus(tr("Choose a run directory."), true);
  if (QFile::exists(QDir(dir).filePath("run.db")))
    return setStatus(tr("%1 already holds a run; choose another directory (or resume it from the Runs tab).").arg(dir), true);
  try {
    rc_->launch(*cfg, dir);
  } catch (const aha::Error& e) {
    return setStatus(QString::fromUtf8(e.what()), true);
  }
  run_dir_edited_ = false;
  setStatus(tr("Starting %1 (building the model and its data)…").arg(dir));
  emit runStarted(dir);
  updateButtons();
}

void LauncherView::setStatus(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? QString("color: %1;").arg(theme_colors().error.name()) : QString());
}

QString LauncherView::costText() const { return cost_->text(); }
QString LauncherView::statusText() const { return status_->text(); }

void LauncherView::updateButtons() {
  const bool active = rc_->active();
  start_->setEnabled(!active && valid_);
  pause_->setEnabled(active);
  resume_->setEnabled(active);
  stop_->setEnabled(active);
}

}  // namespace aha::studio
