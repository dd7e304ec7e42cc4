#include "views/live_reasoning_view.h"

#include <QLabel>
#include <QScrollArea>
#include <QScrollBar>
#include <QVBoxLayout>

#include "views/trace_text_view.h"

namespace aha::studio {

LiveReasoningView::LiveReasoningView(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  header_ = new QLabel(tr("No generation yet"), this);
  header_->setObjectName("liveHeader");
  lay->addWidget(header_);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  auto* inner = new QWidget(scroll);
  boxes_layout_ = new QVBoxLayout(inner);
  boxes_layout_->addStretch(1);
  scroll->setWidget(inner);
  lay->addWidget(scroll, 1);
}

void LiveReasoningView::clear() {
  qDeleteAll(boxes_);  // never called from a box's own event handler: safe to delete now
  boxes_.clear();
  texts_.clear();
}

TraceTextView* LiveReasoningView::box(int sample) {
  while (boxes_.size() <= sample) {
    auto* v = new TraceTextView(boxes_layout_->parentWidget());
    v->setObjectName(QStringLiteral("liveSample%1").arg(boxes_.size()));
    v->setMinimumHeight(90);
    v->setMaximumHeight(160);
    v->setPlaceholderText(tr("sample %1").arg(boxes_.size()));
    boxes_layout_->insertWidget(boxes_layout_->count() - 1, v);  // before the stretch
    boxes_.push_back(v);
  }
  return boxes_[sample];
}

void LiveReasoningView::appendTokens(const TokenPieces& pieces) {
  QSet<int> grown;
  for (const TokenPiece& p : pieces) {
    if (p.stage != stage_ || p.step != step_) {
      clear();
      grown.clear();
      stage_ = p.stage;
      step_ = p.step;
      header_->setText(tr("%1 · generating after step %2").arg(p.stage).arg(p.step));
      emit stepStarted(stage_, step_);
    }
    if (p.sample < 0 || p.sample >= kMaxSamples) continue;
    if (texts_.size() <= p.sample) texts_.resize(p.sample + 1);
    texts_[p.sample] += p.text;
    grown.insert(p.sample);
  }
  // one re-render per grown sample per batch (~40 ms), however many pieces it had
  for (int s : grown) {
    TraceTextView* v = box(s);
    QScrollBar* bar = v->verticalScrollBar();
    const bool at_bottom = bar->value() >= bar->maximum() - 2;
    v->showMarkup(mark_up_live(texts_[s]));
    if (at_bottom) bar->setValue(bar->maximum());  // follow the text unless the user scrolled up
  }
}

QString LiveReasoningView::sampleText(int sample) const {
  return sample >= 0 && sample < texts_.size() ? texts_[sample] : QString();
}

}  // namespace aha::studio
