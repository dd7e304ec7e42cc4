// The "Efficiency" tab: what DeepSeek-V3's efficiency ideas buy on this run's model.
//  - KV-cache bytes per token, MLA's latent cache vs the MHA cache of the same heads;
//  - decoding throughput with the absorbed latent cache vs the naive cache, and MTP
//    speculative decoding's acceptance and speedup — measured on demand on the run's
//    latest checkpoint (engine bench_decode, on a helper thread) and stored in the run
//    (series decode/*) so the figures stay with it;
//  - MFU and tokens/s over the run;
//  - FP8 statistics of a run trained in FP8 (per layer and tensor: amax, share flushed to
//    zero, share clipped — the run store's fp8 rows) and its training-loss gap to a
//    baseline run of the same workspace (e.g. the same preset in BF16).
#pragma once
#include <QWidget>
#include <map>
#include <string>
#include <vector>

#include "engine/store.h"

class QCustomPlot;
class QLabel;
class QPushButton;
class QTableWidget;
class QComboBox;
class QTimer;

namespace aha::studio {

class EfficiencyView : public QWidget {
  Q_OBJECT
 public:
  explicit EfficiencyView(QWidget* parent = nullptr);
  void setRun(const QString& run_dir);
  QList<QCustomPlot*> charts() const;
  QString figuresText() const;
  // The run whose training loss the gap chart compares against ("" = none).
  void setBaseline(const QString& run_dir);
  QString gapText() const;
  int fp8Rows() const;
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
  void showFp8(const std::vector<aha::Fp8Record>& rows, const QString& stage, qint64 step, const aha::RunSummary& s);
  void showGap(const QString& baseline, const std::vector<aha::RunStoreReader::Point>& loss,
               const std::vector<aha::RunStoreReader::Point>& base);
  QTableWidget* fp8_table_;
  QCustomPlot* gap_;
  QComboBox* baseline_;
  QLabel* gap_label_;
  bool filling_ = false;
  bool loading_ = false, reload_again_ = false;
  QString run_dir_;
  QLabel *figures_, *decode_, *fp8_;
  QPushButton* measure_;
  QCustomPlot *kv_, *decode_plot_, *mfu_;
  QTimer* live_;  // re-reads the store while the run trains
  bool measuring_ = false;  // UI thread only
};

}  // namespace aha::studio
