// The Dashboard tab: one run's metrics as a grid of charts, grouped (losses, reward,
// accuracy, completion length, KL, entropy, clip ratio, grad norm, LR, throughput, MFU,
// behaviour), each chart only where the run has that series. One x-axis mode and one
// EMA weight for all charts; zooming x in one chart zooms them all. While the run
// trains, its store is polled a few times a second and the charts grow (each repaints at
// most at 25 Hz, never per point).
#pragma once
#include <QList>
#include <QRegularExpression>
#include <QSet>
#include <QStringList>
#include <QVector>
#include <QWidget>

#include "views/chart_panel.h"

class QComboBox;
class QGridLayout;
class QLabel;
class QSlider;
class QVBoxLayout;

namespace aha::studio {

struct ChartGroup {
  QString title;
  QStringList patterns;  // anchored regular expressions over series names
};
// The dashboard's groups, in display order.
const QVector<ChartGroup>& chart_groups();
// The group index a series is charted in, or −1 (constants such as params_total, and
// series of no group, get no chart).
int chart_group_of(const QString& series);

class DashboardView : public QWidget {
  Q_OBJECT
 public:
  explicit DashboardView(QWidget* parent = nullptr);
  ~DashboardView() override;
  void setRun(const QString& run_dir);
  QString run() const { return run_dir_; }
  QList<QCustomPlot*> charts() const;
  QList<ChartPanel*> panels() const { return panels_; }
  ChartPanel* panel(const QString& metric) const;  // nullptr when not charted
  void setXAxis(XAxis axis);
  void setEmaWeight(double weight);
  XAxis xAxis() const { return axis_; }
  SeriesSource* source() const { return source_; }
  QString lastExportError() const { return export_error_; }

 public slots:
  // Writes every chart to DIR/<metric>.<format> (format: png, svg or pdf; '/' in a
  // metric name becomes '_'). Emits exported() with the files written and any error.
  void exportCharts(const QString& dir, const QString& format);

 signals:
  void exported(const QStringList& files, const QString& error);

 private:
  void clearCharts();
  void addChart(const QString& metric);
  void relayout();
  void onAppended(const QString& run_dir, const LivePoints& points);
  void onRangeChanged(ChartPanel* from, double lo, double hi);

  SeriesSource* source_ = nullptr;
  QString run_dir_;
  XAxis axis_ = XAxis::Step;
  double ema_weight_ = 0.6;
  QString export_error_;
  QList<ChartPanel*> panels_;
  QSet<QString> seen_series_;  // series of the run seen so far (charted or not)
  QComboBox* axis_box_ = nullptr;
  QSlider* ema_slider_ = nullptr;
  QLabel* ema_label_ = nullptr;
  QLabel* status_label_ = nullptr;
  QWidget* grid_host_ = nullptr;
  QVBoxLayout* grid_layout_ = nullptr;
};

}  // namespace aha::studio
