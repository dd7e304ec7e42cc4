// The "Experts" tab: how DeepSeekMoE's auxiliary-loss-free balancing spreads tokens.
//  - load heatmap layer × expert at one recorded step (load / mean load: 1 = balanced),
//  - load heatmap expert × step for one layer (the balancing at work over time),
//  - the routing bias of each expert of that layer at that step (the correction term),
//  - imbalance over time (max/mean load) per MoE layer.
// Everything is read from the run store's MoE rows.
#pragma once
#include <QWidget>
#include <vector>

#include "engine/store.h"

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

 signals:
  void loaded();  // a read finished and is drawn

 protected:
  void showEvent(QShowEvent* e) override;

 private:
  bool stale_ = false;  // a live run moved on while this tab was hidden
  struct Snapshot;
  void request(int index);  // reads on a helper thread (-1: the newest step), then apply()
  void apply(Snapshot s);
  void renderStep(int index, const std::vector<aha::MoeLayerRecord>& rows, int layer);
  void renderLayer(const std::vector<aha::RunStoreReader::MoeHistoryRow>& hist,
                   const std::vector<aha::RunStoreReader::ImbalanceRow>& imb);
  bool loading_ = false, pending_ = false;
  int pending_index_ = -1;
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
