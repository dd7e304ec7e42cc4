#include "views/dashboard_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSlider>
#include <QVBoxLayout>
#include <algorithm>

#include "engine/store.h"

namespace aha::studio {

namespace {
constexpr int kColumns = 3;

// Done runs need no polling; "running" and "paused" may still grow.
bool is_final(const QString& status) {
  return status == "finished" || status == "failed" || status == "stopped" || status == "interrupted";
}
}  // namespace

const QVector<ChartGroup>& chart_groups() {
  static const QVector<ChartGroup> groups = {
      {"Losses", {"loss", "lm_loss", "mtp_loss_\\d+", "balance_loss", "eval_loss", "policy_loss"}},
      {"Reward", {"reward", "reward_std", "rewards/[^/]+/mean"}},
      {"Accuracy", {"accuracy", "format_rate", "eval/[^/]+/pass@\\d+", "eval/[^/]+/maj@\\d+"}},
      {"Completion length", {"completions/mean_length", "completions/min_length", "completions/max_length",
                             "completions/clipped_ratio"}},
      {"KL", {"kl"}},
      {"Entropy", {"entropy"}},
      {"Clip ratio", {"clip_ratio/.+"}},
      {"Grad norm", {"grad_norm"}},
      {"Learning rate", {"lr"}},
      {"Tokens/s", {"tokens_per_s", "generation_tokens_per_s", "training_tokens_per_s"}},
      {"MFU", {"mfu"}},
      // FP8: largest amax, share flushed to zero, share clipped; the Wgrad activation cache size
      {"Low precision", {"fp8/.+", "precision/.+"}},
      {"Behaviour and routing", {"aha_rate", "language_mix_rate", "code_switch_rate", "frac_reward_zero_std",
                                 "expert_imbalance"}},
  };
  return groups;
}

int chart_group_of(const QString& series) {
  static const auto compiled = [] {
    QVector<QVector<QRegularExpression>> out;
    for (const ChartGroup& g : chart_groups()) {
      QVector<QRegularExpression> res;
      for (const QString& p : g.patterns) res << QRegularExpression(QRegularExpression::anchoredPattern(p));
      out << res;
    }
    return out;
  }();
  for (int g = 0; g < compiled.size(); g++)
    for (const QRegularExpression& re : compiled[g])
      if (re.match(series).hasMatch()) return g;
  return -1;
}

DashboardView::DashboardView(QWidget* parent) : QWidget(parent) {
  source_ = new SeriesSource(this);
  auto* outer = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("x axis")));
  axis_box_ = new QComboBox;
  axis_box_->addItem(tr("Step"), static_cast<int>(XAxis::Step));
  axis_box_->addItem(tr("Tokens"), static_cast<int>(XAxis::Tokens));
  axis_box_->addItem(tr("Wall time"), static_cast<int>(XAxis::Wall));
  bar->addWidget(axis_box_);
  bar->addSpacing(16);
  bar->addWidget(new QLabel(tr("Smoothing")));
  ema_slider_ = new QSlider(Qt::Horizontal);
  ema_slider_->setRange(0, static_cast<int>(kMaxEmaWeight * 1000));
  ema_slider_->setValue(static_cast<int>(ema_weight_ * 1000));
  ema_slider_->setMaximumWidth(200);
  bar->addWidget(ema_slider_);
  ema_label_ = new QLabel(QString::number(ema_weight_, 'f', 3));
  bar->addWidget(ema_label_);
  auto* reset = new QPushButton(tr("Reset zoom"));
  bar->addWidget(reset);
  bar->addStretch();
  status_label_ = new QLabel;
  bar->addWidget(status_label_);
  outer->addLayout(bar);

  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  grid_host_ = new QWidget;
  grid_layout_ = new QVBoxLayout(grid_host_);
  scroll->setWidget(grid_host_);
  outer->addWidget(scroll, 1);

  connect(axis_box_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this](int i) { setXAxis(static_cast<XAxis>(axis_box_->itemData(i).toInt())); });
  connect(ema_slider_, &QSlider::valueChanged, this, [this](int v) { setEmaWeight(v / 1000.0); });
  connect(reset, &QPushButton::clicked, this, [this] {
    for (ChartPanel* p : panels_) p->resetZoom();
  });
  connect(source_, &SeriesSource::appended, this, &DashboardView::onAppended);
  connect(source_, &SeriesSource::axisChanged, this, [this](const QString& dir) {
    if (dir == run_dir_)
      for (ChartPanel* p : panels_) p->reload();
  });
  connect(source_, &SeriesSource::statusChanged, this, [this](const QString& dir, const QString& status) {
    if (dir != run_dir_) return;
    status_label_->setText(status);
    if (is_final(status)) source_->unfollow(dir);  // nothing more will come
  });
  connect(source_, &SeriesSource::failed, this, [this](const QString&, const QString& msg) {
    status_label_->setText(msg);
  });
}

DashboardView::~DashboardView() = default;

void DashboardView::clearCharts() {
  for (ChartPanel* p : panels_) p->deleteLater();
  panels_.clear();
  seen_series_.clear();
  while (QLayoutItem* item = grid_layout_->takeAt(0)) {
    if (QWidget* w = item->widget()) w->deleteLater();
    delete item;
  }
}

void DashboardView::setRun(const QString& run_dir) {
  source_->unfollowAll();
  clearCharts();
  run_dir_ = run_dir;
  status_label_->clear();
  if (run_dir.isEmpty()) return;
  QStringList series;
  try {
    // the series table is a few dozen rows: cheap enough for the UI thread
    for (const std::string& s : RunStoreReader::open_checked(run_dir.toStdString(), false, false).series())
      series << QString::fromStdString(s);
  } catch (const std::exception& e) {
    status_label_->setText(QString::fromStdString(e.what()));
    return;
  }
  for (const QString& s : series) {
    seen_series_.insert(s);
    if (chart_group_of(s) >= 0) addChart(s);
  }
  relayout();
  source_->follow(run_dir);
}

void DashboardView::addChart(const QString& metric) {
  auto* p = new ChartPanel(source_, grid_host_);
  p->setXAxis(axis_);
  p->setEmaWeight(ema_weight_);
  p->setRuns({run_dir_});
  p->setMetric(metric);
  connect(p, &ChartPanel::xRangeChanged, this, [this, p](double lo, double hi) { onRangeChanged(p, lo, hi); });
  panels_ << p;
}

void DashboardView::relayout() {
  // Take the grid apart (panels are kept) and lay it out again by group, in group order.
  for (ChartPanel* p : panels_) p->setParent(grid_host_);
  while (QLayoutItem* item = grid_layout_->takeAt(0)) {
    if (QLayout* l = item->layout()) {
      while (QLayoutItem* inner = l->takeAt(0)) {
        if (QWidget* w = inner->widget(); w && !panels_.contains(qobject_cast<ChartPanel*>(w))) w->deleteLater();
        delete inner;
      }
    }
    if (QWidget* w = item->widget()) w->deleteLater();
    delete item;
  }
  const auto& groups = chart_groups();
  for (int g = 0; g < groups.size(); g++) {
    QList<ChartPanel*> in_group;
    for (ChartPanel* p : panels_)
      if (chart_group_of(p->metric()) == g) in_group << p;
    if (in_group.isEmpty()) continue;
    // within a group, the order of the group's patterns, then by name
    const auto rank = [&](ChartPanel* p) {
      for (int i = 0; i < groups[g].patterns.size(); i++)
        if (QRegularExpression(QRegularExpression::anchoredPattern(groups[g].patterns[i])).match(p->metric()).hasMatch())
          return std::make_pair(i, p->metric());
      return std::make_pair(int(groups[g].patterns.size()), p->metric());
    };
    std::sort(in_group.begin(), in_group.end(), [&](ChartPanel* a, ChartPanel* b) { return rank(a) < rank(b); });
    auto* heading = new QLabel(QStringLiteral("<b>%1</b>").arg(groups[g].title));
    grid_layout_->addWidget(heading);
    auto* grid = new QGridLayout;
    for (int i = 0; i < in_group.size(); i++) grid->addWidget(in_group[i], i / kColumns, i % kColumns);
    grid_layout_->addLayout(grid);
  }
  grid_layout_->addStretch();
}

QList<QCustomPlot*> DashboardView::charts() const {
  QList<QCustomPlot*> out;
  for (ChartPanel* p : panels_) out << p->plot();
  return out;
}

ChartPanel* DashboardView::panel(const QString& metric) const {
  for (ChartPanel* p : panels_)
    if (p->metric() == metric) return p;
  return nullptr;
}

void DashboardView::setXAxis(XAxis axis) {
  axis_ = axis;
  const int i = axis_box_->findData(static_cast<int>(axis));
  if (i != axis_box_->currentIndex()) axis_box_->setCurrentIndex(i);  // re-enters once
  for (ChartPanel* p : panels_) p->setXAxis(axis);
}

void DashboardView::setEmaWeight(double weight) {
  ema_weight_ = std::clamp(weight, 0.0, kMaxEmaWeight);
  ema_label_->setText(QString::number(ema_weight_, 'f', 3));
  const int v = static_cast<int>(std::lround(ema_weight_ * 1000));
  if (v != ema_slider_->value()) {
    const QSignalBlocker block(ema_slider_);
    ema_slider_->setValue(v);
  }
  for (ChartPanel* p : panels_) p->setEmaWeight(ema_weight_);
}

void DashboardView::onRangeChanged(ChartPanel* from, double lo, double hi) {
  for (ChartPanel* p : panels_)
    if (p != from) p->setXRange(lo, hi);
}

void DashboardView::onAppended(const QString& run_dir, const LivePoints& points) {
  if (run_dir != run_dir_) return;
  bool fresh = false;  // a series that began after the charts were made (GRPO starting)
  for (const LivePoint& p : points) {
    if (seen_series_.contains(p.series)) continue;
    seen_series_.insert(p.series);
    if (chart_group_of(p.series) >= 0) {
      addChart(p.series);  // it reads its points from the store itself
      fresh = true;
    }
  }
  if (fresh) relayout();
  for (ChartPanel* p : panels_) p->appendPoints(run_dir, points);
}

void DashboardView::exportCharts(const QString& dir, const QString& format) {
  QStringList files;
  QStringList errors;
  if (!QDir().mkpath(dir)) errors << tr("cannot create %1").arg(dir);
  for (ChartPanel* p : panels_) {
    if (!errors.isEmpty()) break;
    QString name = p->metric();
    name.replace('/', '_').replace('@', "_at_");
    const QString path = QDir(dir).filePath(name + "." + format.toLower());
    const QString err = export_chart(p->plot(), path);
    if (err.isEmpty()) files << path;
    else errors << err;
  }
  export_error_ = errors.join('\n');
  emit exported(files, export_error_);
}

}  // namespace aha::studio
