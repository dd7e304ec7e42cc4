#include "views/chart_panel.h"

#include <QFileInfo>
#include <QMouseEvent>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "views/plot_style.h"
#include "views/theme.h"

namespace aha::studio {

namespace {
constexpr int kReplotMs = 40;     // 25 Hz at most
constexpr int kReloadMs = 120;    // a zoom gesture settles before the store is read again
constexpr int kMinBuckets = 600;  // per run and read; more on wide charts (2 per pixel)

QColor with_alpha(QColor c, int a) {
  c.setAlpha(a);
  return c;
}
}  // namespace

ChartPanel::ChartPanel(SeriesSource* source, QWidget* parent) : QWidget(parent), source_(source) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(260, 180);
  layout->addWidget(plot_);
  apply_plot_theme(plot_);
  const ThemeColors& tc = theme_colors();
  plot_->xAxis->setLabel(axis_label(axis_));
  plot_->plotLayout()->insertRow(0);
  title_ = new QCPTextElement(plot_, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
  title_->setTextColor(tc.text);
  plot_->plotLayout()->addElement(0, 0, title_);
  // Zoom and pan along x only: y follows the visible data (rescaleY).
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->axisRect()->setRangeDrag(Qt::Horizontal);
  plot_->axisRect()->setRangeZoom(Qt::Horizontal);
  plot_->legend->setBrush(with_alpha(tc.background, 200));
  plot_->legend->setTextColor(tc.text);

  tracer_ = new QCPItemTracer(plot_);
  tracer_->setStyle(QCPItemTracer::tsCircle);
  tracer_->setSize(7);
  tracer_->setInterpolating(false);
  tracer_->setVisible(false);
  readout_ = new QCPItemText(plot_);
  readout_->setPositionAlignment(Qt::AlignTop | Qt::AlignLeft);
  readout_->position->setType(QCPItemPosition::ptAxisRectRatio);
  readout_->position->setCoords(0.01, 0.02);
  readout_->setTextAlignment(Qt::AlignLeft);
  readout_->setPadding(QMargins(4, 2, 4, 2));
  readout_->setBrush(with_alpha(tc.background, 220));
  readout_->setPen(QPen(tc.grid));
  readout_->setColor(tc.text);
  readout_->setVisible(false);
  readout_->setClipToAxisRect(true);

  connect(plot_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, &ChartPanel::onUserRange);
  connect(plot_, &QCustomPlot::mouseMove, this,
          [this](QMouseEvent* e) { showReadout(plot_->xAxis->pixelToCoord(e->pos().x())); });
  connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { resetZoom(); });
  plot_->installEventFilter(this);

  reload_timer_.setSingleShot(true);
  reload_timer_.setInterval(kReloadMs);
  connect(&reload_timer_, &QTimer::timeout, this, [this] { requestAll(false); });
  replot_timer_.setSingleShot(true);
  replot_timer_.setInterval(kReplotMs);
  // A chart on a hidden tab does not redraw (QCustomPlot renders into its buffers even when
  // hidden, which cost the event loop tens of ms per tab); it redraws once when shown.
  connect(&replot_timer_, &QTimer::timeout, this, [this] {
    if (!plot_->isVisible()) {
      stale_ = true;
      return;
    }
    stale_ = false;
    plot_->replot(QCustomPlot::rpQueuedReplot);
  });
  if (source_) connect(source_, &SeriesSource::loaded, this, &ChartPanel::onLoaded);
}

bool ChartPanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == plot_ && event->type() == QEvent::Show && stale_) scheduleReplot();
  if (watched == plot_ && event->type() == QEvent::Leave && readout_->visible()) {
    readout_->setVisible(false);
    tracer_->setVisible(false);
    scheduleReplot();
  }
  return QWidget::eventFilter(watched, event);
}

void ChartPanel::setMetric(const QString& series) {
  metric_ = series;
  title_->setText(series);
  zoomed_ = false;
  for (Run& r : runs_) r.buckets.clear();
  requestAll(true);
}

void ChartPanel::setRuns(const QStringList& run_dirs, const QStringList& labels) {
  runs_.clear();
  for (int i = 0; i < run_dirs.size(); i++) {
    Run r;
    r.dir = run_dirs[i];
    r.label = labels.value(i, QFileInfo(run_dirs[i]).fileName());
    runs_.push_back(std::move(r));
  }
  zoomed_ = false;
  rebuildGraphs();
  requestAll(true);
}

QStringList ChartPanel::runs() const {
  QStringList out;
  for (const Run& r : runs_) out << r.dir;
  return out;
}

void ChartPanel::setXAxis(XAxis axis) {
  if (axis == axis_) return;
  axis_ = axis;
  plot_->xAxis->setLabel(axis_label(axis));
  zoomed_ = false;  // a range on one axis means nothing on another
  for (Run& r : runs_) r.buckets.clear();
  requestAll(true);
}

void ChartPanel::setEmaWeight(double weight) {
  ema_weight_ = std::clamp(weight, 0.0, kMaxEmaWeight);
  for (Run& r : runs_) refill(r);
  scheduleReplot();
}

void ChartPanel::setXRange(double lo, double hi) {
  const QCPRange cur = plot_->xAxis->range();
  if (cur.lower == lo && cur.upper == hi) return;
  setting_range_ = true;
  plot_->xAxis->setRange(lo, hi);
  setting_range_ = false;
  zoomed_ = true;
  reload_timer_.start();
  scheduleReplot();
}

void ChartPanel::resetZoom() {
  zoomed_ = false;
  requestAll(true);
}

void ChartPanel::reload() { requestAll(!zoomed_); }

QCPGraph* ChartPanel::emaGraph(int run) const { return run >= 0 && run < runCount() ? runs_[run].ema : nullptr; }
QCPGraph* ChartPanel::rawGraph(int run) const { return run >= 0 && run < runCount() ? runs_[run].max : nullptr; }
QCPGraph* ChartPanel::rawMinGraph(int run) const { return run >= 0 && run < runCount() ? runs_[run].min : nullptr; }

bool ChartPanel::isLoading() const {
  return std::any_of(runs_.begin(), runs_.end(), [](const Run& r) { return r.pending != 0; });
}

QString ChartPanel::hoverText() const { return readout_->visible() ? readout_->text() : QString(); }

void ChartPanel::rebuildGraphs() {
  plot_->clearGraphs();
  for (int i = 0; i < runCount(); i++) {
    Run& r = runs_[i];
    const QColor c = series_color(i);
    r.max = plot_->addGraph();
    r.min = plot_->addGraph();
    r.ema = plot_->addGraph();
    for (QCPGraph* g : {r.max, r.min}) {
      g->setPen(QPen(with_alpha(c, 90), 1));
      g->removeFromLegend();
    }
    r.max->setBrush(with_alpha(c, 45));
    r.max->setChannelFillGraph(r.min);  // the band between bucket max and min
    r.ema->setPen(QPen(c, 2));
    r.ema->setName(r.label);
  }
  plot_->legend->setVisible(runCount() > 1);
  scheduleReplot();
}

void ChartPanel::requestAll(bool whole_run) {
  if (!source_ || metric_.isEmpty()) return;
  reload_timer_.stop();
  const QCPRange range = plot_->xAxis->range();
  const double pad = range.size() / 2;  // read past the edges so a pan shows data at once
  for (Run& r : runs_) {
    SeriesRequest q;
    q.run_dir = r.dir;
    q.series = metric_;
    q.axis = axis_;
    q.whole_run = whole_run;
    q.x0 = range.lower - pad;
    q.x1 = range.upper + pad;
    q.buckets = std::max(kMinBuckets, 2 * plot_->width());
    r.pending = source_->request(q);
  }
}

void ChartPanel::onLoaded(quint64 id, const SeriesData& d) {
  auto it = std::find_if(runs_.begin(), runs_.end(), [id](const Run& r) { return r.pending == id; });
  if (it == runs_.end()) return;  // another chart's read, or one superseded since
  it->pending = 0;
  it->buckets = d.buckets;
  it->extent0 = d.extent0;
  it->extent1 = d.extent1;
  refill(*it);
  if (isLoading()) return;
  if (!zoomed_) {
    double lo = INFINITY, hi = -INFINITY;
    for (const Run& r : runs_)
      if (!r.buckets.empty()) lo = std::min(lo, r.extent0), hi = std::max(hi, r.extent1);
    if (lo <= hi) {
      if (lo == hi) lo -= 0.5, hi += 0.5;
      setting_range_ = true;
      plot_->xAxis->setRange(lo, hi);
      setting_range_ = false;
    }
  }
  rescaleY();
  scheduleReplot();
  emit loaded();
}

void ChartPanel::refill(Run& r) {
  if (!r.ema) return;
  const qsizetype n = static_cast<qsizetype>(r.buckets.size());
  QVector<double> keys(n), hi(n), lo(n), smooth(n);
  std::vector<double> means(n);
  std::vector<int64_t> counts(n);
  for (qsizetype i = 0; i < n; i++) {
    const Bucket& b = r.buckets[i];
    keys[i] = (b.x_min + b.x_max) / 2;
    hi[i] = b.max;
    lo[i] = b.min;
    means[i] = b.mean;
    counts[i] = b.count;
  }
  r.smoothed = ema_smooth_buckets(means, counts, ema_weight_);
  std::copy(r.smoothed.begin(), r.smoothed.end(), smooth.begin());
  r.max->setData(keys, hi, true);
  r.min->setData(keys, lo, true);
  r.ema->setData(keys, smooth, true);
}

void ChartPanel::rescaleY() {
  const QCPRange x = plot_->xAxis->range();
  double lo = INFINITY, hi = -INFINITY;
  for (const Run& r : runs_)
    for (const Bucket& b : r.buckets)
      if (b.x_max >= x.lower && b.x_min <= x.upper && std::isfinite(b.min) && std::isfinite(b.max))
        lo = std::min(lo, b.min), hi = std::max(hi, b.max);
  if (!(lo <= hi)) return;
  const double margin = hi > lo ? (hi - lo) * 0.05 : std::max(std::abs(hi) * 0.05, 1e-9);
  plot_->yAxis->setRange(lo - margin, hi + margin);
}

void ChartPanel::scheduleReplot() {
  if (!replot_timer_.isActive()) replot_timer_.start();
}

void ChartPanel::onUserRange(const QCPRange& range) {
  rescaleY();
  if (setting_range_) return;
  zoomed_ = true;
  reload_timer_.start();
  emit xRangeChanged(range.lower, range.upper);
}

void ChartPanel::appendPoints(const QString& run_dir, const LivePoints& points) {
  auto it = std::find_if(runs_.begin(), runs_.end(), [&](const Run& r) { return r.dir == run_dir; });
  if (it == runs_.end()) return;
  Run& r = *it;
  bool added = false;
  for (const LivePoint& p : points) {
    if (p.series != metric_) continue;
    const double x = p.x(axis_);
    if (!r.buckets.empty() && x <= r.buckets.back().x_max) continue;  // already read from the store
    if (r.buckets.empty()) r.extent0 = x;
    r.buckets.push_back({x, x, p.value, p.value, p.value, 1});
    r.extent1 = x;
    added = true;
  }
  if (!added) return;
  // Live points pile up one bucket each: past a few times a read's size, decimate again.
  if (static_cast<int>(r.buckets.size()) > 4 * std::max(kMinBuckets, 2 * plot_->width())) {
    reload();
    return;
  }
  refill(r);
  if (!zoomed_ && r.pending == 0) {  // follow the run's growth
    double lo = INFINITY, hi = -INFINITY;
    for (const Run& o : runs_)
      if (!o.buckets.empty()) lo = std::min(lo, o.extent0), hi = std::max(hi, o.extent1);
    if (lo < hi) {
      setting_range_ = true;
      plot_->xAxis->setRange(lo, hi);
      setting_range_ = false;
    }
  }
  rescaleY();
  scheduleReplot();
}

void ChartPanel::showReadout(double key) {
  QStringList lines;
  QCPGraph* traced = nullptr;
  double traced_key = key;
  for (const Run& r : runs_) {
    if (r.buckets.empty()) continue;
    // the bucket nearest to key
    auto it = std::lower_bound(r.buckets.begin(), r.buckets.end(), key,
                               [](const Bucket& b, double k) { return (b.x_min + b.x_max) / 2 < k; });
    if (it == r.buckets.end() || (it != r.buckets.begin() &&
                                  key - ((it - 1)->x_min + (it - 1)->x_max) / 2 < (it->x_min + it->x_max) / 2 - key))
      --it;
    const Bucket& b = *it;
    const double bx = (b.x_min + b.x_max) / 2;
    const double ema = r.smoothed[static_cast<size_t>(it - r.buckets.begin())];
    if (lines.isEmpty()) lines << QStringLiteral("%1 %2").arg(axis_label(axis_), QString::number(bx, 'g', 8));
    const QString raw = b.count == 1 ? QString::number(b.mean, 'g', 5)
                                     : QStringLiteral("%1 … %2").arg(QString::number(b.min, 'g', 5),
                                                                     QString::number(b.max, 'g', 5));
    lines << QStringLiteral("%1: %2 (smoothed %3)").arg(r.label, raw, QString::number(ema, 'g', 5));
    if (!traced) traced = r.ema, traced_key = bx;
  }
  readout_->setText(lines.join('\n'));
  readout_->setVisible(!lines.isEmpty());
  tracer_->setGraph(traced);
  tracer_->setGraphKey(traced_key);
  tracer_->setVisible(traced != nullptr);
  scheduleReplot();
}

}  // namespace aha::studio
