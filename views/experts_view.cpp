#include "views/experts_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QTimer>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "engine/config.h"
#include "engine/store.h"
#include "views/models/background.h"
#include "views/plot_style.h"
#include "views/theme.h"

namespace aha::studio {

namespace {

QCPColorMap* make_map(QCustomPlot* p, const QString& colour_label) {
  auto* map = new QCPColorMap(p->xAxis, p->yAxis);
  auto* scale = new QCPColorScale(p);
  p->plotLayout()->addElement(1, 1, scale);
  scale->setType(QCPAxis::atRight);
  scale->axis()->setLabel(colour_label);
  scale->axis()->setTickLabelColor(theme_colors().text);
  scale->axis()->setLabelColor(theme_colors().text);
  map->setColorScale(scale);
  map->setGradient(QCPColorGradient::gpThermal);
  map->setInterpolate(false);
  auto* group = new QCPMarginGroup(p);
  p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  return map;
}

// load / mean load of one layer: 1 everywhere when perfectly balanced
std::vector<double> relative_load(const std::vector<int64_t>& tokens) {
  double mean = 0;
  for (int64_t t : tokens) mean += double(t);
  mean /= std::max<size_t>(1, tokens.size());
  std::vector<double> out;
  for (int64_t t : tokens) out.push_back(mean > 0 ? double(t) / mean : 0.0);
  return out;
}
}  // namespace

ExpertsView::ExpertsView(QWidget* parent) : QWidget(parent) {
  by_layer_ = make_titled_plot(tr("Load per layer × expert (load / mean; 1 = balanced)"), 220);
  by_step_ = make_titled_plot(tr("Load of one layer's experts over the steps"), 220);
  bias_ = make_titled_plot(tr("Routing bias per expert (auxiliary-loss-free correction)"));
  imbalance_ = make_titled_plot(tr("Imbalance over time (max load / mean load)"));
  by_layer_map_ = make_map(by_layer_, tr("load / mean"));
  by_step_map_ = make_map(by_step_, tr("load / mean"));
  by_layer_->xAxis->setLabel(tr("expert"));
  by_layer_->yAxis->setLabel(tr("layer"));
  by_step_->xAxis->setLabel(tr("recorded step (all stages)"));
  by_step_->yAxis->setLabel(tr("expert"));
  bias_->xAxis->setLabel(tr("expert"));
  bias_->yAxis->setLabel(tr("bias"));
  imbalance_->xAxis->setLabel(tr("recorded step (all stages)"));
  imbalance_->yAxis->setLabel(tr("max / mean"));
  imbalance_->legend->setVisible(true);
  imbalance_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);

  step_ = new QSlider(Qt::Horizontal);
  step_->setObjectName("expertStep");
  layer_ = new QComboBox;
  layer_->setObjectName("expertLayer");
  step_label_ = new QLabel;
  empty_ = new QLabel(tr("Open a run with MoE layers to see its expert load."));
  live_ = new QTimer(this);
  live_->setInterval(2000);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Step")));
  controls->addWidget(step_, 1);
  controls->addWidget(step_label_);
  controls->addWidget(new QLabel(tr("Layer")));
  controls->addWidget(layer_);
  auto* grid = new QGridLayout;
  grid->addWidget(by_layer_, 0, 0);
  grid->addWidget(by_step_, 0, 1);
  grid->addWidget(bias_, 1, 0);
  grid->addWidget(imbalance_, 1, 1);
  auto* lay = new QVBoxLayout(this);
  lay->addWidget(empty_);
  lay->addLayout(controls);
  lay->addLayout(grid, 1);

  connect(step_, &QSlider::valueChanged, this, [this](int i) { request(i); });
  connect(layer_, &QComboBox::currentIndexChanged, this, [this] { request(step_->value()); });
  // while hidden, a live run is not re-read (the store reads cost the event loop)
  connect(live_, &QTimer::timeout, this, [this] {
    if (isVisible()) reload();
    else stale_ = true;
  });
}

QString ExpertsView::layerName(int layer) const {
  return layer >= main_layers_ ? tr("MTP module %1").arg(layer - main_layers_ + 1) : tr("layer %1").arg(layer);
}

QList<QCustomPlot*> ExpertsView::charts() const { return {by_layer_, by_step_, bias_, imbalance_}; }
QString ExpertsView::stepLabel() const { return step_label_->text(); }
int ExpertsView::layerCount() const { return layers_.size(); }
double ExpertsView::layerExpertCell(int layer_row, int expert) const {
  return by_layer_map_->data()->cell(expert, layer_row);
}

void ExpertsView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  if (stale_) {
    stale_ = false;
    reload();
  }
}

void ExpertsView::setRun(const QString& run_dir) {
  run_dir_ = run_dir;
  steps_.clear();
  step_->setValue(0);
  reload();
}

void ExpertsView::reload() { request(-1); }

// Everything one view needs, read on a helper thread: on a long run the expert × step
// history is hundreds of thousands of rows, which must not stall the event loop.
struct ExpertsView::Snapshot {
  QString dir, error;
  std::vector<std::pair<std::string, int64_t>> steps;
  std::string status;
  int main_layers = 1 << 30;
  int index = -1;  // the step shown
  int layer = -1;  // the layer of the history and bias charts (-1: the first MoE layer)
  std::vector<aha::MoeLayerRecord> rows;
  std::vector<aha::RunStoreReader::MoeHistoryRow> hist;
  std::vector<aha::RunStoreReader::ImbalanceRow> imb;
};

void ExpertsView::request(int index) {
  if (run_dir_.isEmpty()) return;
  if (loading_) {  // one read at a time; the newest request wins
    pending_ = true;
    pending_index_ = index;
    return;
  }
  loading_ = true;
  const bool at_end = steps_.isEmpty() || step_->value() == step_->maximum();
  const int want = index >= 0 ? index : (at_end ? -1 : step_->value());  // -1: the newest step
  const int layer = layer_->currentData().isValid() ? layer_->currentData().toInt() : -1;
  run_in_background<Snapshot>(this, [dir = run_dir_, want, layer] {
    Snapshot s;
    s.dir = dir;
    try {
      const auto r = aha::RunStoreReader::open_checked(dir.toStdString(), false, false);
      s.steps = r.moe_steps();
      s.status = r.summary_status();
      // MoE rows number the MTP modules' blocks after the main layers
      s.main_layers = aha::parse_config(r.summary().config_toml, "run.db").model.num_hidden_layers;
      if (s.steps.empty()) return s;
      s.index = want >= 0 && want < int(s.steps.size()) ? want : int(s.steps.size()) - 1;
      s.rows = r.moe(s.steps[s.index].first, s.steps[s.index].second);
      s.layer = layer;
      if (std::none_of(s.rows.begin(), s.rows.end(), [&](const auto& l) { return l.layer == layer; }))
        s.layer = s.rows.empty() ? -1 : s.rows[0].layer;
      if (s.layer >= 0) s.hist = r.moe_history(s.layer);
      s.imb = r.moe_imbalance();
    } catch (const std::exception& e) {
      s.error = QString::fromUtf8(e.what());
    }
    return s;
  }, [this](Snapshot s) { apply(std::move(s)); });
}

void ExpertsView::apply(Snapshot s) {
  loading_ = false;
  if (s.dir == run_dir_) {
    if (!s.error.isEmpty()) {
      empty_->setText(tr("Cannot read %1: %2").arg(run_dir_, s.error));
      empty_->show();
    } else {
      main_layers_ = s.main_layers;
      steps_.clear();
      for (const auto& [stage, step] : s.steps) steps_.push_back({QString::fromStdString(stage), step});
      empty_->setVisible(steps_.isEmpty());
      if (steps_.isEmpty()) empty_->setText(tr("%1 has no MoE records yet.").arg(QDir(run_dir_).dirName()));
      {
        const QSignalBlocker b(step_);
        step_->setRange(0, std::max(0, int(steps_.size()) - 1));
        if (s.index >= 0) step_->setValue(s.index);
      }
      (s.status == "running") ? live_->start() : live_->stop();
      if (s.index >= 0) {
        renderStep(s.index, s.rows, s.layer);
        renderLayer(s.hist, s.imb);
      }
    }
  }
  if (pending_) {
    pending_ = false;
    request(pending_index_);
  } else {
    emit loaded();
  }
}

void ExpertsView::renderStep(int index, const std::vector<aha::MoeLayerRecord>& rows, int layer) {
  const auto [stage, step] = steps_[index];
  step_label_->setText(QString("%1 %2").arg(stage).arg(step));
  if (rows.empty()) return;
  const int experts = int(rows[0].tokens.size());
  layers_.clear();
  {
    const QSignalBlocker b(layer_);
    layer_->clear();
    for (const auto& l : rows) {
      layers_.push_back(l.layer);
      layer_->addItem(layerName(l.layer), l.layer);
    }
    const int at = layer_->findData(layer);
    layer_->setCurrentIndex(at >= 0 ? at : 0);
  }
  by_layer_map_->data()->setSize(experts, int(rows.size()));
  by_layer_map_->data()->setRange(QCPRange(0, experts - 1), QCPRange(0, double(rows.size()) - 1));
  for (size_t l = 0; l < rows.size(); l++) {
    const auto rel = relative_load(rows[l].tokens);
    for (int e = 0; e < experts; e++) by_layer_map_->data()->setCell(e, int(l), rel[e]);
  }
  by_layer_map_->setDataRange(QCPRange(0, 2));  // 0 … 2× the mean: balanced is the middle colour
  QSharedPointer<QCPAxisTickerText> yt(new QCPAxisTickerText);
  for (size_t l = 0; l < rows.size(); l++)
    yt->addTick(double(l), rows[l].layer >= main_layers_ ? layerName(rows[l].layer) : QString::number(rows[l].layer));
  by_layer_->yAxis->setTicker(yt);
  by_layer_->xAxis->setRange(-0.5, experts - 0.5);
  by_layer_->yAxis->setRange(-0.5, double(rows.size()) - 0.5);
  by_layer_->replot(QCustomPlot::rpQueuedReplot);

  // the chosen layer's bias at this step
  bias_->clearPlottables();
  for (const auto& l : rows) {
    if (l.layer != layer) continue;
    auto* bars = new QCPBars(bias_->xAxis, bias_->yAxis);
    bars->setBrush(series_color(0));
    bars->setPen(Qt::NoPen);
    for (int e = 0; e < experts; e++) bars->addData(e, l.bias[e]);
  }
  bias_->rescaleAxes();
  bias_->xAxis->setRange(-0.7, experts - 0.3);
  bias_->replot(QCustomPlot::rpQueuedReplot);
}

void ExpertsView::renderLayer(const std::vector<aha::RunStoreReader::MoeHistoryRow>& hist,
                              const std::vector<aha::RunStoreReader::ImbalanceRow>& imb) {
  if (!hist.empty()) {
    const int experts = int(hist[0].tokens.size());
    by_step_map_->data()->setSize(int(hist.size()), experts);
    by_step_map_->data()->setRange(QCPRange(0, double(hist.size()) - 1), QCPRange(0, experts - 1));
    for (size_t s = 0; s < hist.size(); s++) {
      const auto rel = relative_load(hist[s].tokens);
      for (int e = 0; e < experts && e < int(rel.size()); e++) by_step_map_->data()->setCell(int(s), e, rel[e]);
    }
    by_step_map_->setDataRange(QCPRange(0, 2));
    by_step_->xAxis->setRange(-0.5, double(hist.size()) - 0.5);
    by_step_->yAxis->setRange(-0.5, experts - 0.5);
    by_step_->replot(QCustomPlot::rpQueuedReplot);
  }
  // imbalance: one line per MoE layer, x = index of the recorded step (stages in order)
  imbalance_->clearGraphs();
  QMap<int, QCPGraph*> per_layer;
  QMap<int, int> next_x;
  for (const auto& row : imb) {
    if (!per_layer.contains(row.layer)) {
      QCPGraph* g = imbalance_->addGraph();
      g->setName(layerName(row.layer));
      g->setPen(QPen(series_color(per_layer.size()), 1.5));
      per_layer[row.layer] = g;
    }
    per_layer[row.layer]->addData(next_x[row.layer]++, row.imbalance);
  }
  imbalance_->rescaleAxes();
  imbalance_->yAxis->setRangeLower(0);
  imbalance_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace aha::studio
