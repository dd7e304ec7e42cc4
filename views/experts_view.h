// The "Experts" tab: how DeepSeekMoE's auxiliary-loss-free balancing spreads tokens.
//  - load heatmap layer × expert at one recorded step (load / mean load: 1 = balanced),
//  - load heatmap expert × step for one layer (the balancing at work over time),
//  - the routing bias of each expert of that layer at that step (the correction term),
//  - imbalance over time (max/mean load) per MoE layer.
// Everything is read from the run store's MoE rows.
#pragma once
#include <QWidget>

class QCustomPlot;
class QCPColorMap;
class QComboBox;
class QSlider;
class QLabel;
class QTimer;

namespace aha::studio {

class ExpertsView : public QWidget {
  Q_OBJECT
 public:
  explicit ExpertsView(QWidget* parent = nullptr);
  void setRun(const QString& run_dir);
  QList<QCustomPlot*> charts() const;
  // What is shown, for tests: the step shown and the load cell (layer row, expert).
  QString stepLabel() const;
  double layerExpertCell(int layer_row, int expert) const;
  int layerCount() const;

 public slots:
  void reload();  // re-reads the store (the view refreshes itself while a run is live)

 private:
  void showStep(int index);
  void showLayer();
  QString layerName(int layer) const;  // "layer 3", or "MTP module 1" past the main layers
  QString run_dir_;
  QVector<QPair<QString, qint64>> steps_;  // (stage, step) with MoE rows
  QVector<int> layers_;                    // MoE layer indices at the shown step
  int main_layers_ = 1 << 30;              // num_hidden_layers of the run's model
  QCustomPlot *by_layer_, *by_step_, *bias_, *imbalance_;
  QCPColorMap *by_layer_map_ = nullptr, *by_step_map_ = nullptr;
  QSlider* step_;
  QComboBox* layer_;
  QLabel *step_label_, *empty_;
  QTimer* live_;
};

}  // namespace aha::studio
