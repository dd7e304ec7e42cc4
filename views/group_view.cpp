#include "views/group_view.h"

#include <QFrame>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QVBoxLayout>

#include "views/trace_text_view.h"

namespace aha::studio {

namespace {
QString reward_line(const aha::TraceRow& r) {
  QStringList parts;
  const auto total = r.rewards.find("total");
  if (total != r.rewards.end()) parts << QStringLiteral("reward %1").arg(total->second, 0, 'f', 3);
  for (const auto& [k, v] : r.rewards)
    if (k != "total") parts << QStringLiteral("%1 %2").arg(QString::fromStdString(k)).arg(v, 0, 'g', 3);
  parts << QStringLiteral("advantage %1").arg(r.advantage, 0, 'f', 3);
  return parts.join(QStringLiteral(" · "));
}
}  // namespace

GroupView::GroupView(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  prompt_ = new QLabel(this);
  prompt_->setWordWrap(true);
  prompt_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  lay->addWidget(prompt_);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  inner_ = new QWidget(scroll);
  columns_layout_ = new QHBoxLayout(inner_);
  scroll->setWidget(inner_);
  lay->addWidget(scroll, 1);
}

void GroupView::clear() {
  while (QLayoutItem* it = columns_layout_->takeAt(0)) {
    delete it->widget();  // at once: never called from a column's own event handler
    delete it;
  }
  columns_ = 0;
  prompt_->clear();
}

void GroupView::showGroup(const std::vector<aha::TraceRow>& group, qint64 selected_id) {
  clear();
  if (group.empty()) return;
  prompt_->setText(tr("Prompt (group %1, step %2): %3")
                       .arg(group.front().group_id)
                       .arg(group.front().step)
                       .arg(QString::fromStdString(group.front().prompt).simplified()));
  for (size_t i = 0; i < group.size(); i++) {
    const aha::TraceRow& r = group[i];
    auto* col = new QFrame(inner_);
    col->setObjectName(QStringLiteral("groupColumn%1").arg(i));
    col->setFrameShape(r.id == selected_id ? QFrame::Box : QFrame::NoFrame);
    col->setLineWidth(2);
    auto* v = new QVBoxLayout(col);
    auto* head = new QLabel(tr("sample %1 · %2").arg(i).arg(reward_line(r)), col);
    head->setWordWrap(true);
    QFont f = head->font();
    f.setBold(r.id == selected_id);
    head->setFont(f);
    v->addWidget(head);
    auto* text = new TraceTextView(col);
    text->showMarkup(mark_up_trace(r.completion, r.aha_spans_json));
    v->addWidget(text, 1);
    col->setMinimumWidth(240);
    columns_layout_->addWidget(col, 1);
  }
  columns_ = int(group.size());
}

}  // namespace aha::studio
