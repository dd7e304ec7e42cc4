// A completion drawn with its markup: <think>/<answer> tags and bodies, aha spans and
// mixed-language runs as background colours of the current theme. Used for the selected
// trace, each column of a GRPO group and each live sample.
#pragma once
#include <QPlainTextEdit>
#include <QTextCharFormat>

#include "views/models/trace_markup.h"

class QTextDocument;

namespace aha::studio {

QTextCharFormat markup_format(SpanKind k);  // from theme_colors(), read at each call
// Replaces the document's text by the markup's and paints its spans.
void render_markup(QTextDocument* doc, const TraceMarkup& m);
// A row of colour swatches naming what each highlight means.
QWidget* make_markup_legend(QWidget* parent = nullptr);

class TraceTextView : public QPlainTextEdit {
  Q_OBJECT
 public:
  explicit TraceTextView(QWidget* parent = nullptr);
  void showMarkup(const TraceMarkup& m);
  const TraceMarkup& markup() const { return markup_; }

 private:
  TraceMarkup markup_;
};

}  // namespace aha::studio
