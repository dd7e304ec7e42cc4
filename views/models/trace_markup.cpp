#include "views/models/trace_markup.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/evaluate.h"
#include "engine/rewards.h"

namespace aha::studio {

namespace {

// UTF-8 → QString with, for every byte that starts a character, the UTF-16 index of that
// character (-1 for continuation bytes). Invalid bytes decode to U+FFFD one by one, so
// the text shown and the offsets mapped always come from the same decoding.
struct Decoded {
  QString text;
  std::vector<int> unit_at;  // size n + 1; unit_at[n] = text.size()
  int begin_of(size_t byte) const {  // the character containing `byte`
    while (byte > 0 && unit_at[byte] < 0) --byte;
    return unit_at[byte];
  }
  int end_of(size_t byte) const {  // the first character starting at or after `byte`
    while (unit_at[byte] < 0) ++byte;
    return unit_at[byte];
  }
};

// Length of the valid UTF-8 sequence at s[i] (0 if invalid) and its code point.
size_t utf8_sequence(std::string_view s, size_t i, char32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(i);
  if (c < 0x80) { cp = c; return 1; }
  if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) { cp = ((c & 0x1Fu) << 6) | (b(i + 1) & 0x3Fu); return 2; }
  if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2)) {
    if ((c == 0xE0 && b(i + 1) < 0xA0) || (c == 0xED && b(i + 1) >= 0xA0)) return 0;  // overlong, surrogate
    cp = ((c & 0x0Fu) << 12) | ((b(i + 1) & 0x3Fu) << 6) | (b(i + 2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    if ((c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90)) return 0;
    cp = ((c & 0x07u) << 18) | ((b(i + 1) & 0x3Fu) << 12) | ((b(i + 2) & 0x3Fu) << 6) | (b(i + 3) & 0x3Fu);
    return 4;
  }
  return 0;
}

Decoded decode(const std::string& s) {
  Decoded d;
  d.unit_at.assign(s.size() + 1, -1);
  d.text.reserve(int(s.size()));
  size_t i = 0;
  while (i < s.size()) {
    d.unit_at[i] = int(d.text.size());
    char32_t cp = 0;
    const size_t len = utf8_sequence(s, i, cp);
    if (len == 0) {
      d.text.append(QChar(QChar::ReplacementCharacter));
      ++i;
      continue;
    }
    d.text.append(QString::fromUcs4(&cp, 1));
    i += len;
  }
  d.unit_at[s.size()] = int(d.text.size());
  return d;
}

struct ByteRange { size_t begin = 0, end = 0; SpanKind kind; QString detail; };

// Every occurrence of a tag is marked, so repeated or stray tags stand out.
void mark_tags(const std::string& s, const std::string& tag, SpanKind kind, std::vector<ByteRange>& out) {
  for (size_t p = s.find(tag); p != std::string::npos; p = s.find(tag, p + tag.size()))
    out.push_back({p, p + tag.size(), kind, {}});
}

// The engine's parse rules (rewards.cpp): reasoning is between the first <think> and the
// first </think> after it; the answer is the last <answer> that has a </answer> after it.
// Unclosed blocks (a completion being generated, or truncated) run to the end.
std::optional<ByteRange> think_body(const std::string& s) {
  const size_t open = s.find("<think>");
  if (open == std::string::npos) return std::nullopt;
  const size_t begin = open + 7;
  const size_t close = s.find("</think>", begin);
  return ByteRange{begin, close == std::string::npos ? s.size() : close, SpanKind::Think, {}};
}

std::optional<ByteRange> answer_body(const std::string& s) {
  const size_t last_close = s.rfind("</answer>");
  size_t open = std::string::npos;
  if (last_close != std::string::npos && last_close > 0) open = s.rfind("<answer>", last_close - 1);
  if (open == std::string::npos) open = s.rfind("<answer>");  // no closed pair: the last opened one
  if (open == std::string::npos) return std::nullopt;
  const size_t begin = open + 8;
  const size_t close = s.find("</answer>", begin);
  return ByteRange{begin, close == std::string::npos ? s.size() : close, SpanKind::Answer, {}};
}

void parse_aha(const std::string& json, size_t n, std::vector<ByteRange>& out) {
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(json));
  for (const QJsonValue& v : doc.array()) {  // not an array → empty
    const QJsonArray a = v.toArray();
    if (a.size() < 2 || !a[0].isDouble() || !a[1].isDouble()) continue;
    const double b = a[0].toDouble(), e = a[1].toDouble();
    if (b < 0 || e > double(n) || b >= e || b != std::floor(b) || e != std::floor(e)) continue;
    out.push_back({size_t(b), size_t(e), SpanKind::Aha, a.size() > 2 ? a[2].toString() : QString()});
  }
}

}  // namespace

QString span_kind_name(SpanKind k) {
  switch (k) {
    case SpanKind::Think: return QStringLiteral("think");
    case SpanKind::Answer: return QStringLiteral("answer");
    case SpanKind::ThinkTag: return QStringLiteral("think tag");
    case SpanKind::AnswerTag: return QStringLiteral("answer tag");
    case SpanKind::MixedLanguage: return QStringLiteral("mixed language");
    case SpanKind::Aha: return QStringLiteral("aha");
  }
  return {};
}

bool TraceMarkup::has(SpanKind k) const {
  return std::any_of(spans.begin(), spans.end(), [&](const MarkupSpan& s) { return s.kind == k; });
}

QVector<MarkupSpan> TraceMarkup::of(SpanKind k) const {
  QVector<MarkupSpan> out;
  for (const MarkupSpan& s : spans)
    if (s.kind == k) out.push_back(s);
  return out;
}

TraceMarkup mark_up_trace(const std::string& s, const std::string& aha_json, const std::string& target_language) {
  std::vector<ByteRange> ranges;
  const auto think = think_body(s);
  if (think && think->begin < think->end) ranges.push_back(*think);
  if (const auto answer = answer_body(s); answer && answer->begin < answer->end) ranges.push_back(*answer);
  mark_tags(s, "<think>", SpanKind::ThinkTag, ranges);
  mark_tags(s, "</think>", SpanKind::ThinkTag, ranges);
  mark_tags(s, "<answer>", SpanKind::AnswerTag, ranges);
  mark_tags(s, "</answer>", SpanKind::AnswerTag, ranges);
  // the reasoning exactly as the engine measured language_share (stage_grpo, evaluate):
  // a closed, non-empty think block, else the whole text
  const bool closed = think && think->end < s.size() && think->begin < think->end;
  const size_t rb = closed ? think->begin : 0;
  const size_t re = closed ? think->end : s.size();
  for (const ByteSpan& sp : off_target_spans(s.substr(rb, re - rb), target_language))
    ranges.push_back({rb + sp.begin, rb + sp.end, SpanKind::MixedLanguage, {}});
  parse_aha(aha_json, s.size(), ranges);

  const Decoded d = decode(s);
  TraceMarkup m;
  m.text = d.text;
  for (const ByteRange& r : ranges) {
    const int b = d.begin_of(r.begin), e = d.end_of(r.end);
    if (b < e) m.spans.push_back({b, e, r.kind, r.detail});
  }
  std::stable_sort(m.spans.begin(), m.spans.end(), [](const MarkupSpan& a, const MarkupSpan& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.begin < b.begin;
  });
  return m;
}

TraceMarkup mark_up_live(const QString& text, const std::string& target_language) {
  const std::string s = text.toStdString();
  return mark_up_trace(s, aha_spans_json(aha_spans(s)), target_language);
}

}  // namespace aha::studio
