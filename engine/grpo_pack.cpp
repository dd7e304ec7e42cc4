#include "engine/grpo_pack.h"

#include <algorithm>
#include <map>

#include "engine/error.h"
#include "engine/tokenizer.h"

namespace aha {

namespace {
void check_item(const PackItem& it, size_t i) {
  if (!it.prompt || !it.completion || it.prompt->empty())
    throw InvalidArgument("grpo batch: item " + std::to_string(i) + " has no prompt or no completion");
}

// An empty [B, T] batch: pad inputs, no targets, nothing scored, plain positions.
Batch empty_batch(int B, int T, bool packed, std::vector<int>& seq_of_token) {
  Batch b;
  b.B = B;
  b.T = T;
  b.inputs.assign((size_t)B * T, Tokenizer::kPad);
  b.targets.assign((size_t)B * T, -1);
  b.mask.assign((size_t)B * T, 0.0f);
  if (packed) {
    // padding: position 0, no gap (it sees the row before it; nothing sees it)
    b.positions.assign((size_t)B * T, 0);
    b.gap_begin.assign((size_t)B * T, 0);
    b.gap_end.assign((size_t)B * T, 0);
  }
  seq_of_token.assign((size_t)B * T, -1);
  return b;
}
}  // namespace

Batch pack_rows(const std::vector<PackItem>& items, std::vector<int>& seq_of_token) {
  // rows in order of first appearance, each with its items in order
  std::vector<std::vector<size_t>> rows;
  std::map<int, size_t> row_of;
  for (size_t i = 0; i < items.size(); i++) {
    check_item(items[i], i);
    const auto [it, added] = row_of.emplace(items[i].row, rows.size());
    if (added) rows.emplace_back();
    else if (*items[rows[it->second].front()].prompt != *items[i].prompt)
      throw InvalidArgument("grpo batch: items of row " + std::to_string(items[i].row) + " have different prompts");
    rows[it->second].push_back(i);
  }
  // row length: the prompt but its last token, then per non-empty completion 1 + n - 1
  int T = 1;
  for (const auto& r : rows) {
    size_t len = items[r.front()].prompt->size() - 1;
    for (size_t i : r) len += items[i].completion->size();
    T = std::max(T, (int)len);
  }
  Batch b = empty_batch((int)rows.size(), T, true, seq_of_token);
  for (size_t ri = 0; ri < rows.size(); ri++) {
    const std::vector<int32_t>& prompt = *items[rows[ri].front()].prompt;
    const int Lp = (int)prompt.size();
    const size_t base = ri * (size_t)T;
    for (int t = 0; t + 1 < Lp; t++) {  // the shared prompt, not scored
      b.inputs[base + t] = prompt[t];
      b.positions[base + t] = t;
    }
    int at = Lp - 1;  // where the next completion's segment starts
    for (size_t i : rows[ri]) {
      const PackItem& it = items[i];
      const std::vector<int32_t>& c = *it.completion;
      const int start = at;
      for (int j = 0; j < (int)c.size(); j++, at++) {
        const size_t n = base + at;
        b.inputs[n] = j == 0 ? prompt[Lp - 1] : c[j - 1];
        b.targets[n] = c[j];
        b.positions[n] = Lp - 1 + j;
        b.gap_begin[n] = Lp - 1;  // skip the earlier completions: keys [Lp-1, start)
        b.gap_end[n] = start;
        if (it.scored) {
          b.mask[n] = 1.0f;
          seq_of_token[n] = it.seq;
        }
      }
    }
  }
  return b;
}

Batch plain_rows(const std::vector<PackItem>& items, std::vector<int>& seq_of_token) {
  int T = 1;
  for (size_t i = 0; i < items.size(); i++) {
    check_item(items[i], i);
    T = std::max(T, (int)(items[i].prompt->size() + items[i].completion->size()) - 1);
  }
  Batch b = empty_batch((int)items.size(), T, false, seq_of_token);
  for (size_t r = 0; r < items.size(); r++) {
    const PackItem& it = items[r];
    std::vector<int32_t> sq = *it.prompt;
    sq.insert(sq.end(), it.completion->begin(), it.completion->end());
    const int Lp = (int)it.prompt->size();
    for (int t = 0; t + 1 < (int)sq.size(); t++) {
      const size_t n = r * (size_t)T + t;
      b.inputs[n] = sq[t];
      b.targets[n] = sq[t + 1];
      if (t + 1 >= Lp && it.scored) {
        b.mask[n] = 1.0f;
        seq_of_token[n] = it.seq;
      }
    }
  }
  return b;
}

}  // namespace aha
