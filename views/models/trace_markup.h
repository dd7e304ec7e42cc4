// What the reasoning inspector highlights in a completion: the <think>/<answer> tags and
// bodies, the engine's "aha" spans and the runs of reasoning that leave the target
// language. Pure logic over text, so every rule is unit-tested without a display.
//
// The store keeps completions as UTF-8 and aha spans as UTF-8 byte offsets, while Qt
// indexes text in UTF-16 units; the markup carries the decoded text together with its
// spans so the two can never disagree (a CJK character is 3 bytes but 1 unit, an emoji 4
// bytes but 2 units, an invalid byte becomes one U+FFFD).
#pragma once
#include <QString>
#include <QVector>
#include <string>

namespace aha::studio {

// Listed in painting order: a later kind is drawn over an earlier one where they overlap
// (an aha keyword inside Chinese reasoning shows as aha).
enum class SpanKind { Think, Answer, ThinkTag, AnswerTag, MixedLanguage, Aha };
QString span_kind_name(SpanKind k);  // "think", "answer", "think tag", ...

struct MarkupSpan {
  int begin = 0, end = 0;  // [begin, end) in UTF-16 units of TraceMarkup::text
  SpanKind kind = SpanKind::Think;
  QString detail;          // aha: the engine's kind ("keyword" | "revision")
  bool operator==(const MarkupSpan&) const = default;
};

struct TraceMarkup {
  QString text;
  QVector<MarkupSpan> spans;  // in painting order (kind, then position)
  bool has(SpanKind k) const;
  QVector<MarkupSpan> of(SpanKind k) const;
};

// A stored trace: completion bytes as the store holds them, its aha_spans JSON
// ("[[begin, end], ...]" or "[[begin, end, kind], ...]"); malformed JSON, offsets out of
// range or reversed are ignored; an offset inside a character widens to the whole character.
TraceMarkup mark_up_trace(const std::string& completion_utf8, const std::string& aha_spans_json,
                          const std::string& target_language = "en");
// A chain of thought still being generated: the engine's own aha detector runs on the
// text so far, and an unclosed <think> or <answer> runs to the end of the text.
TraceMarkup mark_up_live(const QString& text, const std::string& target_language = "en");

}  // namespace aha::studio
