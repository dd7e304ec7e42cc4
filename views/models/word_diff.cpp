#include "views/models/word_diff.h"

#include <QChar>
#include <algorithm>
#include <vector>

namespace aha::studio {

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) ||    // CJK unified ideographs
         (c >= 0x3400 && c <= 0x4DBF) ||    // extension A
         (c >= 0x20000 && c <= 0x2FA1F) ||  // extensions B.. and compatibility supplement
         (c >= 0xF900 && c <= 0xFAFF) ||    // compatibility ideographs
         (c >= 0x3040 && c <= 0x30FF) ||    // hiragana, katakana
         (c >= 0x3000 && c <= 0x303F) ||    // CJK punctuation (。，、「」)
         (c >= 0xFF00 && c <= 0xFFEF);      // full-width forms (，！？)
}

namespace {

enum class Class { Space, Word, Single };

Class classify(char32_t c) {
  if (is_cjk(c)) return Class::Single;
  if (QChar::isSpace(c)) return Class::Space;
  if (QChar::isLetterOrNumber(c) || c == U'_' || QChar::isMark(c)) return Class::Word;
  return Class::Single;  // punctuation, symbols: one token each
}

}  // namespace

QStringList diff_tokens(const QString& text) {
  QStringList out;
  const QList<uint> cps = text.toUcs4();
  QString cur;
  Class cur_class = Class::Single;
  for (uint u : cps) {
    const char32_t c = u;
    const Class k = classify(c);
    if (!cur.isEmpty() && (k != cur_class || k == Class::Single)) {
      out << cur;
      cur.clear();
    }
    cur += QString::fromUcs4(&c, 1);
    cur_class = k;
  }
  if (!cur.isEmpty()) out << cur;
  return out;
}

namespace {

void push(DiffSegments& out, DiffSegment::Kind kind, const QString& text) {
  if (text.isEmpty()) return;
  if (!out.isEmpty() && out.back().kind == kind) out.back().text += text;
  else out.push_back({text, kind});
}

// Myers' greedy forward search, remembering each round's frontier (O(D²) memory, fine
// for the edit distances between two completions) and walking it back for the script.
// Returns false when the distance would pass max_edits.
bool myers(const QStringList& a, const QStringList& b, int max_edits, DiffSegments& out) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  const int max_d = std::min(n + m, max_edits);
  std::vector<int> v(2 * max_d + 3, 0);
  const int off = max_d + 1;
  std::vector<std::vector<int>> trace;  // trace[d][k + d] = the frontier before round d
  int found = -1;
  for (int d = 0; d <= max_d && found < 0; d++) {
    trace.emplace_back(v.begin() + off - d, v.begin() + off + d + 1);
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1] : v[off + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) x++, y++;
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return false;
  // Walk back from (n, m), collecting the script in reverse.
  std::vector<std::pair<DiffSegment::Kind, int>> rev;  // (kind, token index in a or b)
  int x = n, y = m;
  for (int d = found; d > 0; d--) {
    const std::vector<int>& pv = trace[d];  // frontier after round d − 1, indexed k + d
    auto at = [&](int k) { return pv[k + d]; };
    const int k = x - y;
    const int pk = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    const int px = at(pk), py = px - pk;
    while (x > px && y > py) rev.push_back({DiffSegment::Equal, --x}), --y;
    if (x == px) rev.push_back({DiffSegment::Added, --y});
    else rev.push_back({DiffSegment::Removed, --x});
  }
  while (x > 0 && y > 0) rev.push_back({DiffSegment::Equal, --x}), --y;
  for (auto it = rev.rbegin(); it != rev.rend(); ++it)
    push(out, it->first, it->first == DiffSegment::Added ? b[it->second] : a[it->second]);
  return true;
}

}  // namespace

DiffSegments word_diff(const QString& before, const QString& after, int max_edits) {
  const QStringList a = diff_tokens(before), b = diff_tokens(after);
  // The common head and tail need no search (and keep D small for similar texts).
  qsizetype head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) head++;
  qsizetype tail = 0;
  while (tail < a.size() - head && tail < b.size() - head && a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) tail++;
  DiffSegments out;
  push(out, DiffSegment::Equal, a.mid(0, head).join(QString()));
  const QStringList ma = a.mid(head, a.size() - head - tail), mb = b.mid(head, b.size() - head - tail);
  DiffSegments middle;
  if (!myers(ma, mb, max_edits, middle)) {
    middle.clear();
    push(middle, DiffSegment::Removed, ma.join(QString()));
    push(middle, DiffSegment::Added, mb.join(QString()));
  }
  // Within each changed stretch, what went before what came: easier to read, and each
  // side's text keeps its order.
  QString removed, added;
  auto flush = [&] {
    push(out, DiffSegment::Removed, removed);
    push(out, DiffSegment::Added, added);
    removed.clear();
    added.clear();
  };
  for (const DiffSegment& s : middle) {
    switch (s.kind) {
      case DiffSegment::Removed: removed += s.text; break;
      case DiffSegment::Added: added += s.text; break;
      case DiffSegment::Equal: flush(); push(out, DiffSegment::Equal, s.text); break;
    }
  }
  flush();
  push(out, DiffSegment::Equal, a.mid(a.size() - tail).join(QString()));
  return out;
}

QString diff_before(const DiffSegments& segments) {
  QString s;
  for (const DiffSegment& d : segments)
    if (d.kind != DiffSegment::Added) s += d.text;
  return s;
}

QString diff_after(const DiffSegments& segments) {
  QString s;
  for (const DiffSegment& d : segments)
    if (d.kind != DiffSegment::Removed) s += d.text;
  return s;
}

}  // namespace aha::studio
