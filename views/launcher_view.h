// The "Launch" tab: pick a preset (or open a TOML file), edit it in a form validated like
// the CLI, see what the model costs before starting it (total/active parameters, FLOPs
// per token, KV-cache bytes per token for MLA and the MHA equivalent), then start, pause,
// resume and stop it through the RunController. The cost figures come from the engine's
// own Model (built on a helper thread: a large config must not freeze the form).
#pragma once
#include <QWidget>

#include "engine/config.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTimer;

namespace aha::studio {

class ConfigForm;
class RunController;

struct ModelCost {
  double params_total = 0, params_active = 0, flops_per_token = 0, kv_mla = 0, kv_mha = 0;
};
// From the engine's Model for this configuration (allocates its weights once).
ModelCost model_cost(const aha::RunConfig& cfg);

class LauncherView : public QWidget {
  Q_OBJECT
 public:
  LauncherView(RunController* controller, QWidget* parent = nullptr);
  void setWorkspace(const QString& dir);
  ConfigForm* form() { return form_; }
  QString costText() const;  // the cost read-out as shown
  QString statusText() const;

 public slots:
  void choosePreset(const QString& name);
  bool openConfigFile(const QString& path);  // false (message shown) when it does not load
  void startRun();
  void validateNow();

 signals:
  void runStarted(const QString& run_dir);
  void costUpdated();

 private:
  void setStatus(const QString& text, bool error = false);
  void updateButtons();
  RunController* rc_;
  QString workspace_;
  QComboBox* preset_;
  ConfigForm* form_;
  QLineEdit* run_dir_;
  QLabel *cost_, *status_;
  QPushButton *start_, *pause_, *resume_, *stop_, *open_, *save_;
  QTimer* debounce_;
  int cost_generation_ = 0;  // the newest cost request (UI thread only)
  bool run_dir_edited_ = false;
  bool valid_ = false;  // the form's configuration passed validation
};

}  // namespace aha::studio
