// One metric of one or more runs as a QCustomPlot chart: per run a faint min/max band of
// the decimated points (a faint line where every bucket holds one point) and the EMA
// over it in the run's colour. Zooming or panning re-reads the visible range from the
// store (debounced), so a million-point series stays smooth at every zoom; live points
// are appended and the chart repaints at most at 25 Hz.
#pragma once
#include <QPointer>
#include <QStringList>
#include <QTimer>
#include <QVector>
#include <QWidget>
#include <qcustomplot.h>
#include <vector>

#include "views/chart_export.h"
#include "views/models/series_source.h"

class QLabel;

namespace aha::studio {

class ChartPanel : public QWidget {
  Q_OBJECT
 public:
  // source: shared by the charts of a tab (one database thread); not owned.
  explicit ChartPanel(SeriesSource* source, QWidget* parent = nullptr);

  void setMetric(const QString& series);
  // The runs drawn, with their legend labels (default: the directory names).
  void setRuns(const QStringList& run_dirs, const QStringList& labels = {});
  void setXAxis(XAxis axis);
  void setEmaWeight(double weight);  // 0 .. kMaxEmaWeight
  // Linked zoom: sets the x range without emitting xRangeChanged, then re-reads it.
  void setXRange(double lo, double hi);
  void resetZoom();  // the whole extent of every run
  // Live points of one run (all series; the chart takes its metric's).
  void appendPoints(const QString& run_dir, const LivePoints& points);
  void reload();  // re-read everything (after the run's stage offsets moved)

  QString metric() const { return metric_; }
  QStringList runs() const;
  XAxis xAxis() const { return axis_; }
  double emaWeight() const { return ema_weight_; }
  QCustomPlot* plot() const { return plot_; }
  int runCount() const { return static_cast<int>(runs_.size()); }
  QCPGraph* emaGraph(int run) const;  // the smoothed line of run i
  QCPGraph* rawGraph(int run) const;  // its raw points: the band's upper edge (bucket max)
  QCPGraph* rawMinGraph(int run) const;
  bool isLoading() const;             // a read is in flight
  QString hoverText() const;          // the read-out's text ("" when not hovering)
  // The read-out for plot x coordinate `key` (what hovering at that x shows).
  void showReadout(double key);

 signals:
  void xRangeChanged(double lo, double hi);  // the user zoomed or panned this chart
  void loaded();                             // every run's latest read has arrived

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  bool stale_ = false;  // data changed while hidden: redraw when shown
  struct Run {
    QString dir, label;
    std::vector<aha::Bucket> buckets;  // in x order; live points appended as 1-point buckets
    double extent0 = 0, extent1 = 0;
    quint64 pending = 0;  // id of the read whose answer is awaited (0: none)
    std::vector<double> smoothed;  // the EMA of the bucket means
    QCPGraph *max = nullptr, *min = nullptr, *ema = nullptr;
  };
  void rebuildGraphs();
  void requestAll(bool whole_run);
  void onLoaded(quint64 id, const SeriesData& d);
  void refill(Run& r);  // buckets → graph data (+ EMA)
  void rescaleY();
  void scheduleReplot();
  void onUserRange(const QCPRange& range);

  QPointer<SeriesSource> source_;
  QCustomPlot* plot_ = nullptr;
  QCPItemTracer* tracer_ = nullptr;
  QCPItemText* readout_ = nullptr;
  QCPTextElement* title_ = nullptr;
  QString metric_;
  XAxis axis_ = XAxis::Step;
  double ema_weight_ = 0.6;
  std::vector<Run> runs_;
  bool setting_range_ = false;  // our own setRange: not a user zoom
  bool zoomed_ = false;         // the user chose a range: keep it over reloads
  QTimer reload_timer_;         // debounces re-reads while zooming
  QTimer replot_timer_;         // caps repaints at 25 Hz
};

}  // namespace aha::studio
