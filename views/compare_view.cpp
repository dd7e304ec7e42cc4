#include "views/compare_view.h"

#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <algorithm>
#include <QSlider>
#include <QSplitter>
#include <QTableView>
#include <QTextCursor>
#include <QTextEdit>
#include <QVBoxLayout>
#include <set>

#include "views/theme.h"

namespace aha::studio {

namespace {
// "… User: Compute 6 * 2. Assistant:" → "Compute 6 * 2." (the system preamble is the same
// for every prompt; the list shows what differs).
QString short_prompt(const QString& p) {
  const int u = p.lastIndexOf(QLatin1String("User:"));
  QString s = u >= 0 ? p.mid(u + 5) : p;
  if (s.endsWith(QLatin1String("Assistant:"))) s.chop(10);
  s = s.simplified();
  return s.size() > 120 ? s.left(119) + QChar(0x2026) : s;
}

void render_diff(QTextEdit* edit, const DiffSegments& diff, DiffSegment::Kind shown, const QColor& bg) {
  edit->clear();
  QTextCursor c(edit->document());
  QTextCharFormat plain, marked;
  marked.setBackground(bg);
  for (const DiffSegment& s : diff) {
    if (s.kind == DiffSegment::Equal) c.insertText(s.text, plain);
    else if (s.kind == shown) c.insertText(s.text, marked);
  }
}
}  // namespace

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
  source_ = new SeriesSource(this);
  auto* outer = new QVBoxLayout(this);
  auto* split = new QSplitter(Qt::Vertical);
  outer->addWidget(split);

  // metric overlay
  auto* chart_box = new QWidget;
  auto* cl = new QVBoxLayout(chart_box);
  auto* bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("Metric")));
  metric_box_ = new QComboBox;
  metric_box_->setMinimumContentsLength(24);
  bar->addWidget(metric_box_);
  auto* axis_box = new QComboBox;
  axis_box->addItem(tr("Step"), static_cast<int>(XAxis::Step));
  axis_box->addItem(tr("Tokens"), static_cast<int>(XAxis::Tokens));
  axis_box->addItem(tr("Wall time"), static_cast<int>(XAxis::Wall));
  bar->addWidget(axis_box);
  bar->addWidget(new QLabel(tr("Smoothing")));
  auto* ema = new QSlider(Qt::Horizontal);
  ema->setRange(0, static_cast<int>(kMaxEmaWeight * 1000));
  ema->setValue(600);
  ema->setMaximumWidth(200);
  bar->addWidget(ema);
  bar->addStretch();
  cl->addLayout(bar);
  overlay_ = new ChartPanel(source_);
  cl->addWidget(overlay_, 1);
  split->addWidget(chart_box);
  connect(metric_box_, &QComboBox::currentTextChanged, this, [this](const QString& m) {
    if (!filling_ && !m.isEmpty()) overlay_->setMetric(m);
  });
  connect(axis_box, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this, axis_box](int i) { overlay_->setXAxis(static_cast<XAxis>(axis_box->itemData(i).toInt())); });
  connect(ema, &QSlider::valueChanged, this, [this](int v) { overlay_->setEmaWeight(v / 1000.0); });

  // configuration differences
  auto* cfg_box = new QWidget;
  auto* fl = new QVBoxLayout(cfg_box);
  fl->addWidget(new QLabel(tr("<b>Configuration differences</b>")));
  config_diff_ = new ConfigDiffModel(this);
  config_table_ = new QTableView;
  config_table_->setModel(config_diff_);
  config_table_->horizontalHeader()->setStretchLastSection(true);
  config_table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);  // keys in full
  config_table_->verticalHeader()->setVisible(false);
  fl->addWidget(config_table_);
  config_errors_ = new QLabel;
  config_errors_->setWordWrap(true);
  fl->addWidget(config_errors_);
  split->addWidget(cfg_box);

  split->addWidget(buildTraceArea());
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);  // the configuration differences need room to be read
  split->setStretchFactor(2, 3);
}

QWidget* CompareView::buildTraceArea() {
  auto* box = new QWidget;
  auto* l = new QVBoxLayout(box);
  l->addWidget(new QLabel(tr("<b>Same prompt, side by side</b>")));
  auto* pick = new QHBoxLayout;
  for (int i = 0; i < 2; i++) {
    Side& s = sides_[i];
    s.run_box = new QComboBox;
    s.step_box = new QComboBox;
    pick->addWidget(new QLabel(i == 0 ? tr("Left") : tr("Right")));
    pick->addWidget(s.run_box);
    pick->addWidget(s.step_box);
    pick->addSpacing(12);
    connect(s.run_box, qOverload<int>(&QComboBox::currentIndexChanged), this, [this, i](int run) {
      if (!filling_) setTraceSide(i, run, -1);
    });
    connect(s.step_box, qOverload<int>(&QComboBox::currentIndexChanged), this, [this, i](int step) {
      if (!filling_) setTraceSide(i, sides_[i].run, step);
    });
  }
  pick->addStretch();
  l->addLayout(pick);
  auto* h = new QSplitter(Qt::Horizontal);
  prompts_ = new QListWidget;
  prompts_->setWordWrap(true);  // long prompts and the "no prompt in common" note wrap instead of clipping
  h->addWidget(prompts_);
  for (int i = 0; i < 2; i++) {
    auto* col = new QWidget;
    auto* cl = new QVBoxLayout(col);
    cl->setContentsMargins(0, 0, 0, 0);
    sides_[i].header = new QLabel;
    cl->addWidget(sides_[i].header);
    QTextEdit*& edit = i == 0 ? left_text_ : right_text_;
    edit = new QTextEdit;
    edit->setReadOnly(true);
    cl->addWidget(edit);
    h->addWidget(col);
  }
  h->setStretchFactor(0, 1);
  h->setStretchFactor(1, 2);
  h->setStretchFactor(2, 2);
  l->addWidget(h, 1);
  connect(prompts_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (!filling_) showPrompt(row);
  });
  return box;
}

void CompareView::setRuns(const QStringList& run_dirs) {
  run_dirs_ = run_dirs;
  run_labels_.clear();
  trace_steps_.clear();
  QStringList tomls, errors;
  std::set<std::string> series;
  std::vector<std::set<std::string>> run_series;  // per readable run
  for (const QString& dir : run_dirs) {
    // the directory name, as the run browser shows it: unique, unlike config names
    QString label = QFileInfo(dir).fileName(), toml;
    std::vector<std::pair<std::string, int64_t>> steps;
    try {
      const RunStoreReader r = RunStoreReader::open_checked(dir.toStdString(), false, false);
      const RunSummary s = r.summary();
      toml = QString::fromStdString(s.config_toml);
      std::set<std::string> mine;
      for (const std::string& n : r.series()) series.insert(n), mine.insert(n);
      run_series.push_back(std::move(mine));
      steps = r.trace_steps();
    } catch (const std::exception& e) {
      errors << QStringLiteral("%1: %2").arg(dir, QString::fromStdString(e.what()));
    }
    if (run_labels_.contains(label)) label += QStringLiteral(" (%1)").arg(QFileInfo(dir).fileName());
    run_labels_ << label;
    tomls << toml;
    trace_steps_.push_back(std::move(steps));
  }
  config_diff_->setConfigs(run_labels_, tomls);
  for (int i = 0; i < config_diff_->errors().size(); i++)
    if (!config_diff_->errors()[i].isEmpty()) errors << run_labels_[i] + ": " + config_diff_->errors()[i];
  config_errors_->setText(errors.join('\n'));
  config_errors_->setVisible(!errors.isEmpty());

  filling_ = true;
  metric_box_->clear();
  for (const std::string& n : series) metric_box_->addItem(QString::fromStdString(n));
  for (Side& s : sides_) {
    s.run_box->clear();
    s.run_box->addItems(run_labels_);
  }
  filling_ = false;
  overlay_->setRuns(run_dirs, run_labels_);
  // the first headline metric every run has (a pretraining run has no reward yet)
  QString first = metric_box_->itemText(0);
  for (const char* want : {"reward", "eval_loss", "loss"}) {
    if (std::all_of(run_series.begin(), run_series.end(), [&](const auto& set) { return set.count(want) > 0; })) {
      first = want;
      break;
    }
  }
  setMetric(first);
  // Default: each run's last trace step, left the first run, right the second.
  setTraceSide(0, run_dirs.isEmpty() ? -1 : 0, -1);
  setTraceSide(1, run_dirs.size() > 1 ? 1 : run_dirs.isEmpty() ? -1 : 0, -1);
}

void CompareView::setMetric(const QString& metric) {
  const int i = metric_box_->findText(metric);
  if (i < 0) return;
  filling_ = true;
  metric_box_->setCurrentIndex(i);
  filling_ = false;
  overlay_->setMetric(metric);
}

QStringList CompareView::metrics() const {
  QStringList out;
  for (int i = 0; i < metric_box_->count(); i++) out << metric_box_->itemText(i);
  return out;
}

std::vector<std::pair<std::string, int64_t>> CompareView::traceSteps(int run) const {
  return run >= 0 && run < static_cast<int>(trace_steps_.size()) ? trace_steps_[run] : decltype(trace_steps_)::value_type{};
}

void CompareView::setTraceSide(int side, int run, int step_index) {
  if (side < 0 || side > 1) return;
  Side& s = sides_[side];
  s.run = run;
  const auto steps = traceSteps(run);
  // −1: the latest step; on the right side of a one-run comparison, the one before it
  if (step_index < 0 || step_index >= static_cast<int>(steps.size())) {
    step_index = static_cast<int>(steps.size()) - 1;
    if (side == 1 && run == sides_[0].run && step_index > 0) step_index--;
  }
  s.step_index = step_index;
  filling_ = true;
  s.run_box->setCurrentIndex(run);
  fillStepBox(s);
  filling_ = false;
  loadSide(s);
  refreshPrompts();
}

void CompareView::fillStepBox(Side& s) {
  s.step_box->clear();
  for (const auto& [stage, step] : traceSteps(s.run))
    s.step_box->addItem(QStringLiteral("%1 step %2").arg(QString::fromStdString(stage)).arg(step));
  s.step_box->setCurrentIndex(s.step_index);
}

void CompareView::loadSide(Side& s) {
  s.traces.clear();
  const auto steps = traceSteps(s.run);
  if (s.step_index < 0 || s.step_index >= static_cast<int>(steps.size())) return;
  try {
    // one step's traces: a few groups of completions, a small read
    const RunStoreReader r = RunStoreReader::open_checked(run_dirs_[s.run].toStdString(), false, false);
    s.traces = r.traces(steps[s.step_index].second, steps[s.step_index].first);
  } catch (const std::exception& e) {
    s.header->setText(QString::fromStdString(e.what()));
  }
}

void CompareView::refreshPrompts() {
  std::set<std::string> right;
  for (const auto& t : sides_[1].traces) right.insert(t.prompt);
  common_prompts_.clear();
  std::set<std::string> seen;
  for (const auto& t : sides_[0].traces)
    if (right.count(t.prompt) && seen.insert(t.prompt).second) common_prompts_ << QString::fromStdString(t.prompt);
  filling_ = true;
  prompts_->clear();
  for (const QString& p : common_prompts_) {
    auto* item = new QListWidgetItem(short_prompt(p));
    item->setToolTip(p);
    prompts_->addItem(item);
  }
  filling_ = false;
  if (!common_prompts_.isEmpty()) {
    prompts_->setCurrentRow(0);  // filling_ is off: shows it
  } else {
    showPrompt(-1);
    // say why the side-by-side is empty instead of showing blank boxes
    auto* why = new QListWidgetItem(tr("No prompt in common at these steps.\n"
                                       "Held-out (eval) problems are the same in every run:\n"
                                       "pick steps that evaluated (every log_every steps)."));
    why->setFlags(Qt::NoItemFlags);
    prompts_->addItem(why);
  }
}

QStringList CompareView::commonPrompts() const { return common_prompts_; }

void CompareView::showPrompt(int index) {
  diff_.clear();
  left_completion_.clear();
  right_completion_.clear();
  for (Side& s : sides_) s.header->clear();
  if (index >= 0 && index < common_prompts_.size()) {
    const std::string prompt = common_prompts_[index].toStdString();
    for (int i = 0; i < 2; i++) {
      Side& s = sides_[i];
      // the prompt's first sample (traces are in group order)
      for (const auto& t : s.traces) {
        if (t.prompt != prompt) continue;
        (i == 0 ? left_completion_ : right_completion_) = QString::fromStdString(t.completion);
        QStringList rewards;
        for (const auto& [name, v] : t.rewards) rewards << QStringLiteral("%1 %2").arg(QString::fromStdString(name)).arg(v, 0, 'g', 3);
        s.header->setText(QStringLiteral("%1 · %2 step %3 · %4")
                              .arg(run_labels_.value(s.run), QString::fromStdString(t.stage))
                              .arg(t.step)
                              .arg(rewards.join(", ")));
        break;
      }
    }
    diff_ = word_diff(left_completion_, right_completion_);
  }
  const ThemeColors& tc = theme_colors();
  render_diff(left_text_, diff_, DiffSegment::Removed, tc.diff_removed);
  render_diff(right_text_, diff_, DiffSegment::Added, tc.diff_added);
  if (prompts_->currentRow() != index && index >= 0) {
    filling_ = true;
    prompts_->setCurrentRow(index);
    filling_ = false;
  }
}

}  // namespace aha::studio
