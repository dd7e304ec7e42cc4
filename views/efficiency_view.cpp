#include "views/efficiency_view.h"

#include <QApplication>
#include <QDir>
#include <QComboBox>
#include <QFileInfo>
#include <QGridLayout>
#include <QHeaderView>
#include <QTableWidget>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>
#include <cmath>
#include <qcustomplot.h>

#include "engine/bench.h"
#include "engine/config.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/run.h"
#include "engine/store.h"
#include "kernels/cpu/ops.h"
#include "views/models/run_controller.h"
#include "views/models/background.h"
#include "views/plot_style.h"
#include "views/theme.h"

namespace aha::studio {

namespace {

// An empty chart says why instead of drawing bare 0..5 axes.
void show_empty(QCustomPlot* p, const QString& why) {
  p->clearPlottables();
  p->clearGraphs();
  p->clearItems();
  auto* t = new QCPItemText(p);
  t->position->setType(QCPItemPosition::ptAxisRectRatio);
  t->position->setCoords(0.5, 0.5);
  t->setText(why);
  t->setColor(theme_colors().text);
  p->xAxis->setTicks(false);
  p->yAxis->setTicks(false);
  p->replot();
}
void show_axes(QCustomPlot* p) {
  p->clearItems();
  p->xAxis->setTicks(true);
  p->yAxis->setTicks(true);
}

void bars(QCustomPlot* p, const QStringList& names, const QVector<double>& values, const QString& unit) {
  show_axes(p);
  p->clearPlottables();
  auto* b = new QCPBars(p->xAxis, p->yAxis);
  b->setPen(Qt::NoPen);
  QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
  for (int i = 0; i < names.size(); i++) {
    b->addData(i, values[i]);
    ticks->addTick(i, names[i]);
  }
  b->setBrush(series_color(0));
  p->xAxis->setTicker(ticks);
  p->yAxis->setLabel(unit);
  p->rescaleAxes();
  p->xAxis->setRange(-0.6, names.size() - 0.4);
  p->yAxis->setRangeLower(0);
  p->yAxis->setRangeUpper(p->yAxis->range().upper * 1.15);
  p->replot();
}

double get(const std::map<std::string, double>& m, const char* k) {
  auto it = m.find(k);
  return it == m.end() ? std::nan("") : it->second;
}

}  // namespace

EfficiencyView::EfficiencyView(QWidget* parent) : QWidget(parent) {
  figures_ = new QLabel(tr("Open a run to see its efficiency figures."));
  figures_->setObjectName("efficiencyFigures");
  figures_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  figures_->setWordWrap(true);
  decode_ = new QLabel;
  decode_->setWordWrap(true);
  decode_->setObjectName("decodeFigures");
  fp8_ = new QLabel;
  fp8_->setWordWrap(true);
  fp8_->setObjectName("fp8Summary");
  fp8_table_ = new QTableWidget(0, 5);
  fp8_table_->setObjectName("fp8Table");
  fp8_table_->setHorizontalHeaderLabels({tr("layer"), tr("tensor"), tr("amax"), tr("underflow"), tr("overflow")});
  fp8_table_->verticalHeader()->hide();
  fp8_table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  fp8_table_->horizontalHeader()->setStretchLastSection(true);
  gap_ = make_titled_plot(tr("Training-loss gap to the baseline (EMA, %)"));
  gap_->xAxis->setLabel(tr("step (all stages)"));
  gap_->yAxis->setLabel(tr("(loss − baseline) / baseline, %"));
  baseline_ = new QComboBox;
  baseline_->setObjectName("baselineRun");
  gap_label_ = new QLabel;
  gap_label_->setObjectName("gapSummary");
  connect(baseline_, &QComboBox::currentIndexChanged, this, [this] {
    if (!filling_) reload();
  });
  measure_ = new QPushButton(tr("Measure decoding on the latest checkpoint"));
  measure_->setToolTip(tr("Times greedy decoding with the latent (absorbed) and naive caches, batch 16, and MTP "
                          "speculative decoding; a few seconds to a minute"));
  kv_ = make_titled_plot(tr("KV cache per token (BF16, all layers)"));
  decode_plot_ = make_titled_plot(tr("Decoding throughput (batch 16)"));
  mfu_ = make_titled_plot(tr("Model FLOPs utilisation over the run"));
  mfu_->xAxis->setLabel(tr("wall time (s)"));
  mfu_->yAxis->setLabel(tr("MFU"));

  auto* grid = new QGridLayout;
  grid->addWidget(kv_, 0, 0);
  grid->addWidget(decode_plot_, 0, 1);
  grid->addWidget(mfu_, 1, 0, 1, 2);
  auto* measure_row = new QHBoxLayout;
  measure_row->addWidget(measure_);
  measure_row->addWidget(decode_, 1);
  auto* lay = new QVBoxLayout(this);
  lay->addWidget(figures_);
  lay->addLayout(measure_row);
  lay->addWidget(fp8_);
  auto* fp8_row = new QHBoxLayout;
  fp8_row->addWidget(fp8_table_, 1);
  fp8_row->addWidget(gap_, 1);
  lay->addLayout(fp8_row, 1);
  auto* base_row = new QHBoxLayout;
  base_row->addWidget(new QLabel(tr("Loss gap to baseline run")));
  base_row->addWidget(baseline_, 1);
  base_row->addWidget(gap_label_, 2);
  lay->addLayout(base_row);
  lay->addLayout(grid, 1);
  connect(measure_, &QPushButton::clicked, this, &EfficiencyView::measureDecode);
  live_ = new QTimer(this);
  live_->setInterval(3000);
  // while hidden, a live run is not re-read (the store reads cost the event loop)
  connect(live_, &QTimer::timeout, this, [this] {
    if (isVisible()) reload();
    else stale_ = true;
  });
  measure_->setEnabled(false);
}

QList<QCustomPlot*> EfficiencyView::charts() const { return {kv_, decode_plot_, mfu_, gap_}; }
QString EfficiencyView::figuresText() const { return figures_->text() + "\n" + decode_->text(); }

void EfficiencyView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  if (stale_) {
    stale_ = false;
    reload();
  }
}

void EfficiencyView::setRun(const QString& run_dir) {
  run_dir_ = run_dir;
  // the baseline candidates: the other runs of the same workspace
  filling_ = true;
  const QString keep = baseline_->currentData().toString();
  baseline_->clear();
  baseline_->addItem(tr("(none)"), QString());
  const QDir ws = QFileInfo(run_dir).dir();
  for (const QString& name : ws.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
    const QString dir = ws.filePath(name);
    if (dir != run_dir && QFile::exists(QDir(dir).filePath("run.db"))) baseline_->addItem(name, dir);
  }
  const int at = baseline_->findData(keep);
  baseline_->setCurrentIndex(at > 0 ? at : 0);
  filling_ = false;
  reload();
}

void EfficiencyView::setBaseline(const QString& run_dir) {
  const int at = baseline_->findData(run_dir);
  baseline_->setCurrentIndex(at >= 0 ? at : 0);  // reloads
}

QString EfficiencyView::gapText() const { return gap_label_->text(); }
int EfficiencyView::fp8Rows() const { return fp8_table_->rowCount(); }

void EfficiencyView::showFp8(const std::vector<aha::Fp8Record>& rows, const QString& stage, qint64 step,
                             const aha::RunSummary& s) {
  fp8_table_->setRowCount(0);
  std::string precision = "fp32";
  try {
    precision = aha::parse_config(s.config_toml, "run.db").train.precision;
  } catch (const std::exception&) {
  }
  if (rows.empty()) {
    fp8_->setText(precision == "fp8" ? tr("This run trains in FP8; its first statistics arrive with its first step.")
                                     : tr("This run trained its Linear layers in %1. FP8 statistics (per-layer amax, "
                                          "underflow, overflow) appear for runs with train.precision = \"fp8\".")
                                           .arg(QString::fromStdString(precision).toUpper()));
    fp8_table_->setVisible(false);
    return;
  }
  fp8_table_->setVisible(true);
  double worst = 0;
  for (const auto& r : rows) worst = std::max(worst, r.underflow);
  fp8_->setText(tr("FP8 (E4M3; activations in 1×128 tiles, weights in 128×128 blocks, scale = amax/448) at %1 step "
                   "%2: largest share of values flushed to zero %3%, largest share clipped %4%.")
                    .arg(stage).arg(step).arg(100 * worst, 0, 'f', 3)
                    .arg(100 * std::max_element(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.overflow < b.overflow; })->overflow, 0, 'f', 3));
  for (const auto& r : rows) {
    const int i = fp8_table_->rowCount();
    fp8_table_->insertRow(i);
    const QStringList cells = {QString::number(r.layer), QString::fromStdString(r.tensor), QString::number(r.amax, 'g', 4),
                               QString::number(100 * r.underflow, 'f', 3) + "%", QString::number(100 * r.overflow, 'f', 3) + "%"};
    for (int c = 0; c < cells.size(); c++) fp8_table_->setItem(i, c, new QTableWidgetItem(cells[c]));
  }
}

void EfficiencyView::showGap(const QString& baseline, const std::vector<aha::RunStoreReader::Point>& loss,
                             const std::vector<aha::RunStoreReader::Point>& base) {
  gap_->clearGraphs();
  gap_->clearItems();
  const size_t n = std::min(loss.size(), base.size());
  if (baseline.isEmpty() || n == 0) {
    gap_label_->setText(baseline.isEmpty() ? tr("choose a run trained the same way in another precision")
                                           : tr("no common steps with %1").arg(QDir(baseline).dirName()));
    show_empty(gap_, baseline.isEmpty() ? tr("choose a baseline run below") : tr("no common steps"));
    return;
  }
  show_axes(gap_);
  // the same recorded steps in order (runs of one config in two precisions log alike); the
  // gap of the EMA-smoothed losses, as single steps' losses are noisy
  QCPGraph* g = gap_->addGraph();
  g->setPen(QPen(series_color(3), 1.5));
  double ema = 0, ema_base = 0, w = 0;
  for (size_t i = 0; i < n; i++) {
    ema = 0.98 * ema + 0.02 * loss[i].value;
    ema_base = 0.98 * ema_base + 0.02 * base[i].value;
    w = 0.98 * w + 0.02;
    g->addData(double(i + 1), 100.0 * (ema - ema_base) / ema_base);
  }
  const double final_gap = 100.0 * (ema / w - ema_base / w) / (ema_base / w);
  gap_label_->setText(tr("final training loss %1 vs %2 (EMA): %3%")
                          .arg(ema / w, 0, 'f', 4).arg(ema_base / w, 0, 'f', 4).arg(final_gap, 0, 'f', 3));
  gap_->rescaleAxes();
  gap_->replot(QCustomPlot::rpQueuedReplot);
}

namespace {
struct EfficiencyData {
  QString dir, error;
  aha::RunSummary summary;
  std::vector<aha::RunStoreReader::Point> mfu;
  std::vector<aha::Fp8Record> fp8;
  std::string fp8_stage;
  int64_t fp8_step = 0;
  QString baseline;                                    // "" = none chosen
  std::vector<aha::RunStoreReader::Point> loss, base_loss;
};
}  // namespace

void EfficiencyView::reload() {
  if (run_dir_.isEmpty()) return;
  if (loading_) {  // one read at a time; another follows it (a new baseline, a live step)
    reload_again_ = true;
    return;
  }
  loading_ = true;
  // the summary scans every series' last point: off the UI thread on a long run
  run_in_background<EfficiencyData>(this, [dir = run_dir_, base = baseline_->currentData().toString()] {
    EfficiencyData d;
    d.dir = dir;
    d.baseline = base;
    try {
      const auto r = aha::RunStoreReader::open_checked(dir.toStdString(), false, false);
      d.summary = r.summary();
      d.mfu = r.points("mfu");
      d.fp8 = r.fp8_latest(&d.fp8_stage, &d.fp8_step);
      if (!base.isEmpty()) {
        d.loss = r.points("loss");
        d.base_loss = aha::RunStoreReader::open_checked(base.toStdString(), false, false).points("loss");
      }
    } catch (const std::exception& e) {
      d.error = QString::fromUtf8(e.what());
    }
    return d;
  }, [this](EfficiencyData d) {
    loading_ = false;
    if (d.dir != run_dir_ || reload_again_) {  // another run or baseline was chosen meanwhile
      reload_again_ = false;
      return reload();
    }
    if (!d.error.isEmpty()) {
      figures_->setText(tr("Cannot read %1: %2").arg(run_dir_, d.error));
    } else {
      show(d.summary, d.mfu);
      showFp8(d.fp8, QString::fromStdString(d.fp8_stage), d.fp8_step, d.summary);
      showGap(d.baseline, d.loss, d.base_loss);
    }
    emit loaded();
  });
}

void EfficiencyView::show(const aha::RunSummary& s, const std::vector<aha::RunStoreReader::Point>& mfu) {
  const double pt = get(s.latest, "params_total"), pa = get(s.latest, "params_active");
  const double fl = get(s.latest, "flops_per_token");
  const double mla = get(s.latest, "kv_bytes_per_token_mla"), mha = get(s.latest, "kv_bytes_per_token_mha");
  if (std::isnan(mla)) {
    figures_->setText(tr("%1 recorded no model figures yet.").arg(QDir(run_dir_).dirName()));
    show_empty(kv_, tr("no model figures recorded yet"));
  } else {
    figures_->setText(tr("<b>%1</b>: %2 parameters, %3 active per token (%4%) · %5 MFLOP per training token · "
                         "KV cache %6 B/token with MLA vs %7 B/token for the MHA equivalent: <b>%8× smaller</b>")
                          .arg(QString::fromStdString(s.name))
                          .arg(pt, 0, 'f', 0).arg(pa, 0, 'f', 0).arg(100 * pa / pt, 0, 'f', 0)
                          .arg(fl / 1e6, 0, 'f', 2).arg(mla, 0, 'f', 0).arg(mha, 0, 'f', 0)
                          .arg(mha / mla, 0, 'f', 1));
    bars(kv_, {tr("MLA latent"), tr("MHA equivalent")}, {mla, mha}, tr("bytes per token"));
  }
  mfu_->clearGraphs();
  if (mfu.empty()) {
    show_empty(mfu_, tr("no MFU recorded yet (pretraining and SFT steps record it)"));
  } else {
    show_axes(mfu_);
    QCPGraph* g = mfu_->addGraph();
    g->setPen(QPen(series_color(2), 1.5));
    for (const auto& p : mfu) g->addData(p.wall, p.value);
    mfu_->rescaleAxes();
    mfu_->yAxis->setRangeLower(0);
  }
  mfu_->replot();
  showDecode(s.latest);

  measure_->setEnabled(!s.checkpoints.empty() && !measuring_);
  (s.status == "running") ? live_->start() : live_->stop();  // follow a training run
}

void EfficiencyView::showDecode(const std::map<std::string, double>& latest) {
  const double lat = get(latest, "decode/tokens_per_s_latent"), naive = get(latest, "decode/tokens_per_s_naive");
  if (std::isnan(lat)) {
    decode_->setText(tr("Decoding not measured yet for this run."));
    show_empty(decode_plot_, tr("press “Measure decoding” once the run has a checkpoint"));
    return;
  }
  QString t = tr("Latent cache %1 tokens/s vs naive %2 tokens/s (%3×) at context %4, batch %5.")
                  .arg(lat, 0, 'f', 0).arg(naive, 0, 'f', 0).arg(lat / naive, 0, 'f', 2)
                  .arg(get(latest, "decode/context"), 0, 'f', 0).arg(get(latest, "decode/batch"), 0, 'f', 0);
  const double acc = get(latest, "decode/mtp_acceptance");
  if (!std::isnan(acc))
    t += tr(" MTP speculative decoding: %1% of drafts accepted, %2× faster decoding.")
             .arg(100 * acc, 0, 'f', 0).arg(get(latest, "decode/mtp_speedup"), 0, 'f', 2);
  decode_->setText(t);
  bars(decode_plot_, {tr("latent (absorbed)"), tr("naive")}, {lat, naive}, tr("tokens/s"));
}

void EfficiencyView::measureDecode() {
  if (measuring_) return;
  measuring_ = true;
  measure_->setEnabled(false);
  decode_->setText(tr("Measuring… (the rest of the studio stays usable)"));
  struct Measured { QString summary; bool ok = false; };
  run_in_background<Measured>(this, [dir = run_dir_.toStdString()] {
    Measured out;
    try {
      const std::string ckpt = aha::latest_checkpoint(dir);
      if (ckpt.empty()) throw aha::IoError(dir + ": no checkpoint to measure");
      const aha::RunConfig cfg = aha::read_checkpoint_config(ckpt);
      aha::Model model(cfg.model, aha::kernels::cpu_ops());
      aha::load_weights(ckpt, model);
      const int context = std::max(8, std::min(256, cfg.model.max_position_embeddings - 64));
      const bool mtp = cfg.model.num_nextn_predict_layers > 0;
      const aha::DecodeBench r = aha::bench_decode(model, cfg, context, 16, 32, mtp);
      std::map<std::string, double> m = {{"decode/tokens_per_s_latent", r.tokens_per_s_absorbed},
                                         {"decode/tokens_per_s_naive", r.tokens_per_s_naive},
                                         {"decode/context", double(r.context)},
                                         {"decode/batch", double(r.batch)}};
      if (mtp) m.insert({{"decode/mtp_acceptance", r.mtp_acceptance}, {"decode/mtp_speedup", r.mtp_speedup}});
      std::string stage;
      int64_t step = 0;
      if (aha::checkpoint_stage_step(ckpt, stage, step)) aha::append_to_run(dir, stage, step, m, {});
      out.summary = QString("latent %1 tokens/s, naive %2 tokens/s").arg(r.tokens_per_s_absorbed, 0, 'f', 0)
                        .arg(r.tokens_per_s_naive, 0, 'f', 0);
      out.ok = true;
    } catch (const std::exception& e) {
      out.summary = QString::fromUtf8(e.what());
    }
    return out;
  }, [this](Measured r) {
    measuring_ = false;
    if (!r.ok) decode_->setText(tr("Measurement failed: %1").arg(r.summary));
    else reload();
    measure_->setEnabled(true);
    emit measured(r.summary);
  });
}

}  // namespace aha::studio
