#include "views/trace_text_view.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QTextCursor>
#include <QTextDocument>

#include "views/theme.h"

namespace aha::studio {

QTextCharFormat markup_format(SpanKind k) {
  const ThemeColors& c = theme_colors();
  QTextCharFormat f;
  switch (k) {
    case SpanKind::Think: f.setBackground(c.think); break;
    case SpanKind::Answer: f.setBackground(c.answer); break;
    // tags: a darker shade of their block and bold, so the structure reads at a glance
    case SpanKind::ThinkTag: f.setBackground(c.think.darker(125)); f.setFontWeight(QFont::Bold); break;
    case SpanKind::AnswerTag: f.setBackground(c.answer.darker(125)); f.setFontWeight(QFont::Bold); break;
    case SpanKind::MixedLanguage: f.setBackground(c.mixed_language); break;
    case SpanKind::Aha: f.setBackground(c.aha); f.setFontWeight(QFont::Bold); break;
  }
  return f;
}

void render_markup(QTextDocument* doc, const TraceMarkup& m) {
  // QTextDocument turns "\r" and Unicode separators into block breaks of its own; one
  // character for one keeps document positions equal to the markup's indices
  QString shown = m.text;
  for (QChar& ch : shown)
    if (ch == '\r' || ch == QChar::LineSeparator || ch == QChar::ParagraphSeparator) ch = ' ';
  doc->setPlainText(shown);
  QTextCursor cur(doc);
  cur.beginEditBlock();
  for (const MarkupSpan& s : m.spans) {  // in painting order: later kinds win overlaps
    cur.setPosition(s.begin);
    cur.setPosition(s.end, QTextCursor::KeepAnchor);
    cur.mergeCharFormat(markup_format(s.kind));
  }
  cur.endEditBlock();
}

QWidget* make_markup_legend(QWidget* parent) {
  auto* w = new QWidget(parent);
  auto* lay = new QHBoxLayout(w);
  lay->setContentsMargins(0, 0, 0, 0);
  for (SpanKind k : {SpanKind::Think, SpanKind::Answer, SpanKind::Aha, SpanKind::MixedLanguage}) {
    auto* l = new QLabel(span_kind_name(k), w);
    const QColor bg = markup_format(k).background().color();
    l->setStyleSheet(QStringLiteral("QLabel { background: %1; padding: 1px 6px; border-radius: 3px; }").arg(bg.name()));
    lay->addWidget(l);
  }
  lay->addStretch(1);
  return w;
}

TraceTextView::TraceTextView(QWidget* parent) : QPlainTextEdit(parent) {
  setReadOnly(true);
  setLineWrapMode(QPlainTextEdit::WidgetWidth);
  setUndoRedoEnabled(false);
}

void TraceTextView::showMarkup(const TraceMarkup& m) {
  markup_ = m;
  render_markup(document(), m);
}

}  // namespace aha::studio
