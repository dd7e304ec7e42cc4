// Word-level diff of two texts (two completions of the same prompt): the texts are cut
// into words, whitespace runs and single punctuation marks — each CJK character is a word
// of its own, since Chinese and Japanese put no spaces between words — and Myers'
// O((N+M)·D) algorithm finds the shortest edit script over those tokens.
#pragma once
#include <QString>
#include <QStringList>
#include <QVector>

namespace aha::studio {

struct DiffSegment {
  enum Kind { Equal, Added, Removed };
  QString text;
  Kind kind = Equal;
  bool operator==(const DiffSegment& o) const { return kind == o.kind && text == o.text; }
};
using DiffSegments = QVector<DiffSegment>;

// The tokens the diff works on; joined they give the text back exactly.
QStringList diff_tokens(const QString& text);
bool is_cjk(char32_t c);

// Segments in text order, adjacent tokens of one kind merged, removals before additions
// where both replace the same stretch. Texts so different that the edit script would
// pass max_edits tokens diff as "common head and tail, the middle replaced" (still exact).
DiffSegments word_diff(const QString& before, const QString& after, int max_edits = 4000);

// The texts a diff was made from: Equal + Removed, and Equal + Added.
QString diff_before(const DiffSegments& segments);
QString diff_after(const DiffSegments& segments);

}  // namespace aha::studio
