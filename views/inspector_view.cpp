#include "views/inspector_view.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QSlider>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

#include "views/group_view.h"
#include "views/live_reasoning_view.h"
#include "views/theme.h"
#include "views/trace_text_view.h"

namespace aha::studio {

namespace {
QCheckBox* toggle(const QString& text, const QString& name, QWidget* parent) {
  auto* c = new QCheckBox(text, parent);
  c->setObjectName(name);
  return c;
}
}  // namespace

InspectorView::InspectorView(QWidget* parent) : QWidget(parent) {
  model_ = new TraceModel(this);
  filter_ = new TraceFilterModel(this);
  filter_->setSourceModel(model_);

  auto* lay = new QVBoxLayout(this);
  lay->addWidget(buildControls());
  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* left = new QWidget(split);
  auto* left_lay = new QVBoxLayout(left);
  left_lay->setContentsMargins(0, 0, 0, 0);
  table_ = new QTableView(left);
  table_->setObjectName("traceTable");
  table_->setModel(filter_);
  table_->setSortingEnabled(true);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setStretchLastSection(true);
  left_lay->addWidget(table_, 3);
  left_lay->addWidget(new QLabel(tr("Aha moments (click to open)"), left));
  timeline_ = new QListWidget(left);
  timeline_->setObjectName("ahaTimeline");
  left_lay->addWidget(timeline_, 1);
  split->addWidget(left);
  split->addWidget(buildDetail());
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  lay->addWidget(split, 1);

  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] { showSelected(); });
  connect(timeline_, &QListWidget::itemClicked, this,
          [this](QListWidgetItem* it) { jumpToTrace(it->data(Qt::UserRole).toLongLong()); });
  // a new generation step means the previous step's traces were just stored
  connect(live_, &LiveReasoningView::stepStarted, this, [this] {
    refreshSteps();
    loadAhaTimeline();
  });
}

QWidget* InspectorView::buildControls() {
  auto* w = new QWidget(this);
  auto* lay = new QVBoxLayout(w);
  lay->setContentsMargins(0, 0, 0, 0);
  auto* row1 = new QHBoxLayout;
  slider_ = new QSlider(Qt::Horizontal, w);
  slider_->setObjectName("stepSlider");
  slider_->setRange(0, 0);
  slider_->setEnabled(false);
  step_label_ = new QLabel(tr("No run"), w);
  step_label_->setObjectName("stepLabel");
  step_label_->setMinimumWidth(180);
  row1->addWidget(new QLabel(tr("Step"), w));
  row1->addWidget(slider_, 1);
  row1->addWidget(step_label_);
  lay->addLayout(row1);

  auto* row2 = new QHBoxLayout;
  search_ = new QLineEdit(w);
  search_->setObjectName("searchBox");
  search_->setPlaceholderText(tr("Search prompts and completions (SQLite FTS5: wait, \"let me\", completion:check*)"));
  search_->setClearButtonEnabled(true);
  row2->addWidget(search_, 1);
  correct_ = toggle(tr("Correct"), "filterCorrect", w);
  wrong_ = toggle(tr("Wrong"), "filterWrong", w);
  aha_ = toggle(tr("Aha"), "filterAha", w);
  mixed_ = toggle(tr("Mixed language"), "filterMixed", w);
  truncated_ = toggle(tr("Truncated"), "filterTruncated", w);
  for (QCheckBox* c : {correct_, wrong_, aha_, mixed_, truncated_}) {
    row2->addWidget(c);
    connect(c, &QCheckBox::toggled, this, [this] { applyFilters(); });
  }
  lay->addLayout(row2);
  search_error_ = new QLabel(w);
  search_error_->setObjectName("searchError");
  search_error_->setWordWrap(true);
  search_error_->setStyleSheet(QStringLiteral("QLabel { color: %1; }").arg(theme_colors().error.name()));
  search_error_->hide();
  lay->addWidget(search_error_);

  connect(slider_, &QSlider::valueChanged, this, [this](int i) { showStep(i); });
  connect(search_, &QLineEdit::returnPressed, this, [this] { runSearch(); });
  // clearing the box (its clear button) goes back to the step on the slider
  connect(search_, &QLineEdit::textChanged, this, [this](const QString& t) {
    if (t.isEmpty()) runSearch();
  });
  return w;
}

QWidget* InspectorView::buildDetail() {
  tabs_ = new QTabWidget(this);
  auto* trace = new QWidget(tabs_);
  auto* lay = new QVBoxLayout(trace);
  lay->addWidget(make_markup_legend(trace));
  rewards_ = new QLabel(trace);
  rewards_->setObjectName("rewardsLabel");
  rewards_->setWordWrap(true);
  rewards_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  lay->addWidget(rewards_);
  text_ = new TraceTextView(trace);
  text_->setObjectName("traceText");
  lay->addWidget(text_, 1);
  tabs_->addTab(trace, tr("Trace"));
  group_ = new GroupView(tabs_);
  group_->setObjectName("groupView");
  tabs_->addTab(group_, tr("Group"));
  live_ = new LiveReasoningView(tabs_);
  live_->setObjectName("liveView");
  tabs_->addTab(live_, tr("Live"));
  return tabs_;
}

void InspectorView::setRun(const QString& run_dir) {
  run_dir_ = run_dir;
  live_->clear();
  steps_.clear();
  search_->blockSignals(true);
  search_->clear();
  search_->blockSignals(false);
  search_error_->hide();
  refreshSteps();
  loadAhaTimeline();
}

void InspectorView::refreshSteps() {
  if (run_dir_.isEmpty()) return;
  const bool was_last = steps_.empty() || slider_->value() >= int(steps_.size()) - 1;
  const std::pair<std::string, int64_t> shown = steps_.empty() ? std::pair<std::string, int64_t>{} : steps_[size_t(slider_->value())];
  QString err;
  try {
    steps_ = RunStoreReader::open_checked(run_dir_.toStdString(), false, false).trace_steps();
  } catch (const std::exception& e) {
    steps_.clear();
    err = tr("Cannot read the run: %1").arg(QString::fromUtf8(e.what()));
  }
  const int n = int(steps_.size());
  int target = n - 1;
  if (!was_last)
    for (int i = 0; i < n; i++)
      if (steps_[size_t(i)] == shown) target = i;
  slider_->blockSignals(true);
  slider_->setRange(0, std::max(0, n - 1));
  slider_->setEnabled(n > 0);
  slider_->setValue(std::max(0, target));
  slider_->blockSignals(false);
  if (n == 0) {
    model_->clear();
    step_label_->setText(err.isEmpty() ? tr("No traces recorded yet") : err);
    return;
  }
  // a search on screen stays; otherwise show the (possibly new) step
  if (search_->text().trimmed().isEmpty()) showStep(slider_->value());
}

void InspectorView::showStep(int i) {
  if (i < 0 || i >= int(steps_.size())) return;
  if (!search_->text().isEmpty()) {  // moving the slider leaves the search
    search_->blockSignals(true);
    search_->clear();
    search_->blockSignals(false);
  }
  search_error_->hide();
  const auto& [stage, step] = steps_[size_t(i)];
  const QString err = model_->loadStep(run_dir_, QString::fromStdString(stage), step);
  step_label_->setText(err.isEmpty() ? tr("%1 step %2 (%3 of %4)")
                                           .arg(QString::fromStdString(stage))
                                           .arg(step)
                                           .arg(i + 1)
                                           .arg(steps_.size())
                                     : err);
  selectProxyRow(0);
}

void InspectorView::runSearch() {
  const QString q = search_->text().trimmed();
  if (q.isEmpty()) {
    search_error_->hide();
    showStep(slider_->value());
    return;
  }
  const QString err = model_->search(run_dir_, q, 500);
  if (!err.isEmpty()) {  // the table keeps what it showed
    search_error_->setText(tr("Search failed: %1").arg(err));
    search_error_->show();
    return;
  }
  search_error_->hide();
  step_label_->setText(tr("%n trace(s) match \"%1\"", nullptr, model_->rowCount()).arg(q));
  selectProxyRow(0);
}

void InspectorView::applyFilters() {
  TraceFilterModel::Filters f;
  f.setFlag(TraceFilterModel::Correct, correct_->isChecked());
  f.setFlag(TraceFilterModel::Wrong, wrong_->isChecked());
  f.setFlag(TraceFilterModel::AhaOnly, aha_->isChecked());
  f.setFlag(TraceFilterModel::MixedOnly, mixed_->isChecked());
  f.setFlag(TraceFilterModel::TruncatedOnly, truncated_->isChecked());
  filter_->setFilters(f);
  showSelected();
}

void InspectorView::showSelected() {
  const QModelIndex cur = table_->selectionModel()->currentIndex();
  const TraceEntry* e = cur.isValid() ? model_->entry(filter_->mapToSource(cur).row()) : nullptr;
  if (!e) {
    text_->showMarkup({});
    rewards_->clear();
    group_->clear();
    return;
  }
  const TraceRow& r = e->row;
  text_->showMarkup(mark_up_trace(r.completion, r.aha_spans_json));
  QStringList parts;
  for (const auto& [k, v] : r.rewards) parts << QStringLiteral("%1 %2").arg(QString::fromStdString(k)).arg(v, 0, 'g', 4);
  parts << tr("advantage %1").arg(r.advantage, 0, 'f', 4);
  parts << tr("English share %1").arg(r.language_share, 0, 'f', 2);
  if (r.truncated) parts << tr("truncated");
  // the question: the R1 template's last line ("User: … Assistant:"); the whole prompt on hover
  const QString prompt = QString::fromStdString(r.prompt);
  const QString question = prompt.trimmed().section('\n', -1).trimmed();
  rewards_->setText(tr("Trace #%1 · %2 step %3 · %4\n%5")
                        .arg(r.id)
                        .arg(QString::fromStdString(r.stage))
                        .arg(r.step)
                        .arg(parts.join(QStringLiteral(" · ")), question));
  rewards_->setToolTip(prompt);
  // the group at that step, whichever way the row was found (step or search)
  std::vector<TraceRow> group;
  try {
    for (TraceRow& t : RunStoreReader::open_checked(run_dir_.toStdString(), false, false).traces(r.step, r.stage, 100000))
      if (t.group_id == r.group_id && t.split == r.split) group.push_back(std::move(t));
  } catch (const std::exception&) {
    group.clear();  // the run went away: the trace text above is still right
  }
  group_->showGroup(group, r.id);
}

void InspectorView::loadAhaTimeline() {
  timeline_->clear();
  if (run_dir_.isEmpty()) return;
  const QString err = load_aha_moments(run_dir_, moments_);
  if (!err.isEmpty()) {
    timeline_->addItem(tr("Cannot read aha moments: %1").arg(err));
    return;
  }
  if (moments_.empty()) timeline_->addItem(tr("No aha moment in this run yet"));
  for (const auto& m : moments_) {
    auto* it = new QListWidgetItem(tr("%1 step %2 · trace #%3 (%4)")
                                       .arg(QString::fromStdString(m.stage))
                                       .arg(m.step)
                                       .arg(m.trace_id)
                                       .arg(QString::fromStdString(m.split)),
                                   timeline_);
    it->setData(Qt::UserRole, QVariant::fromValue<qint64>(m.trace_id));
  }
}

void InspectorView::selectTraceRow(qint64 trace_id) {
  const int src = model_->rowOfTrace(trace_id);
  if (src < 0) return;
  QModelIndex idx = filter_->mapFromSource(model_->index(src, 0));
  if (!idx.isValid()) {  // hidden by a filter: show everything rather than nothing
    for (QCheckBox* c : {correct_, wrong_, aha_, mixed_, truncated_}) {
      c->blockSignals(true);
      c->setChecked(false);
      c->blockSignals(false);
    }
    applyFilters();
    idx = filter_->mapFromSource(model_->index(src, 0));
  }
  selectProxyRow(idx.row());
  tabs_->setCurrentIndex(0);
}

void InspectorView::jumpToTrace(qint64 trace_id) {
  if (model_->rowOfTrace(trace_id) >= 0) return selectTraceRow(trace_id);
  std::pair<std::string, int64_t> where;
  bool found = false;
  for (const auto& m : moments_)
    if (m.trace_id == trace_id) { where = {m.stage, m.step}; found = true; }
  // not an aha trace: look through the steps (rare — the table and timeline cover clicks)
  if (!found) {
    try {
      const auto reader = RunStoreReader::open_checked(run_dir_.toStdString(), false, false);
      for (size_t i = 0; !found && i < steps_.size(); i++)
        for (const TraceRow& t : reader.traces(steps_[i].second, steps_[i].first, 100000))
          if (t.id == trace_id) { where = steps_[i]; found = true; }
    } catch (const std::exception&) {
      return;
    }
  }
  if (!found) return;
  for (size_t i = 0; i < steps_.size(); i++) {
    if (steps_[i] != where) continue;
    if (slider_->value() == int(i)) showStep(int(i));  // e.g. leaving a search on the same step
    else slider_->setValue(int(i));                    // loads the step
    return selectTraceRow(trace_id);
  }
}

void InspectorView::selectProxyRow(int row) {
  const QModelIndex idx = filter_->index(row, 0);
  if (!idx.isValid()) {
    table_->selectionModel()->clear();
    showSelected();
    return;
  }
  // the current row drives the detail panes (currentRowChanged → showSelected)
  table_->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  table_->scrollTo(idx);
}

void InspectorView::appendTokens(const aha::studio::TokenPieces& pieces) { live_->appendTokens(pieces); }

}  // namespace aha::studio
