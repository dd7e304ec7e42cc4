// The "Efficiency" tab: what DeepSeek-V3's efficiency ideas buy on this run's model.
//  - KV-cache bytes per token, MLA's latent cache vs the MHA cache of the same heads;
//  - decoding throughput with the absorbed latent cache vs the naive cache, and MTP
//    speculative decoding's acceptance and speedup — measured on demand on the run's
//    latest checkpoint (engine bench_decode, on a helper thread) and stored in the run
//    (series decode/*) so the figures stay with it;
//  - MFU and tokens/s over the run;
//  - FP8 statistics once a run trains in FP8 (the run store's fp8 rows).
#pragma once
#include <QWidget>
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "engine/store.h"

class QCustomPlot;
class QLabel;
class QPushButton;
class QTimer;

namespace aha::studio {

class EfficiencyView : public QWidget {
  Q_OBJECT
 public:
  explicit EfficiencyView(QWidget* parent = nullptr);
  void setRun(const QString& run_dir);
  QList<QCustomPlot*> charts() const;
  QString figuresText() const;
  bool measuring() const { return measuring_; }

 public slots:
  void reload();
  void measureDecode();  // bench_decode on the latest checkpoint; results stored in the run

 signals:
  void measured(const QString& summary);  // or the error message
  void loaded();                          // a read of the run finished and is shown

 protected:
  void showEvent(QShowEvent* e) override;

 private:
  bool stale_ = false;  // a live run moved on while this tab was hidden
  void showDecode(const std::map<std::string, double>& latest);
  void show(const aha::RunSummary& s, const std::vector<aha::RunStoreReader::Point>& mfu);
  bool loading_ = false;
  QString run_dir_;
  QLabel *figures_, *decode_, *fp8_;
  QPushButton* measure_;
  QCustomPlot *kv_, *decode_plot_, *mfu_;
  QTimer* live_;  // re-reads the store while the run trains
  std::atomic<bool> measuring_{false};
};

}  // namespace aha::studio
