// Training batches for GRPO's policy update. The G completions of a prompt share it, and
// the R1 template makes the prompt long (about 380 byte-level tokens) next to
// arithmetic completions of ~85: laid out one sequence per completion,
// most of the forward and backward is the same prompt G times over. A packed row holds the
// prompt once, then the completions one after another:
//
//   row:       p_0 … p_{L-2} | p_{L-1} c¹_0 … c¹_{n1-2} | p_{L-1} c²_0 … c²_{n2-2} | …
//   positions: 0 … L-2       | L-1 …                    | L-1 …
//   targets:   — (not scored)| c¹_0 …       c¹_{n1-1}   | c²_0 …       c²_{n2-1}   | …
//
// Each completion starts with a copy of the prompt's last token (it predicts the
// completion's first token, and the completions' first tokens differ), its positions
// continue from the prompt's, and its queries skip the keys of the completions before it
// (kernels::AttnShape's gaps). Every scored token therefore sees exactly the keys and
// positions it had alone: log-probabilities and gradients are those of the plain layout
// (tests/test_grpo_pack.cpp checks both), for Lp + Σ n_i tokens instead of Σ (Lp + n_i).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/model.h"

namespace aha {

// One completion to train on. Items with the same `row` share their prompt (checked).
struct PackItem {
  int row = 0;                                  // packed: the row it goes in (its group)
  const std::vector<int32_t>* prompt = nullptr; // "<bos>" prompt " " tokens
  const std::vector<int32_t>* completion = nullptr;
  int seq = 0;                                  // its index among the step's completions
  bool scored = true;                           // false: in the batch, not in the loss
};

// One row per distinct `row`, completions in item order; rows padded to the longest.
// seq_of_token[B*T]: the completion a scored target belongs to, -1 elsewhere.
Batch pack_rows(const std::vector<PackItem>& items, std::vector<int>& seq_of_token);

// The plain layout: one row per item, "<bos>" prompt " " completion, padded to the longest.
Batch plain_rows(const std::vector<PackItem>& items, std::vector<int>& seq_of_token);

}  // namespace aha
