// Sampling completions with the absorbed MLA cache: the prompt is prefilled in one
// forward pass, then K samples are decoded together, one token per step. Stops at <eos>,
// at </answer> or at max_new_tokens. A simple, correct decoder; the GRPO issue makes it
// fast (batched prompts, MTP speculative decoding).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/rng.h"

namespace aha {

struct SamplingConfig {
  double temperature = 1.0;  // 0 = greedy
  int top_k = 0;             // 0 = off
  double top_p = 1.0;        // nucleus; 1 = off
  int max_new_tokens = 200;
  uint64_t seed = 1;
};

struct Completion {
  std::string text;             // decoded completion (specials as their strings)
  std::vector<int32_t> tokens;
  bool truncated = false;       // stopped by max_new_tokens (no <eos> / </answer>)
};

// K samples of one prompt. on_token(sample, text_piece) is called for every generated
// token (the live chain of thought). Throws InvalidArgument when the prompt does not fit
// max_position_embeddings with max_new_tokens.
std::vector<Completion> sample(Model& m, const std::string& prompt, int K, const SamplingConfig& s,
                               const std::function<void(int, const std::string&)>& on_token = {});

// Picks one token from logits[V] with the sampling settings (exposed for tests).
int32_t pick_token(const float* logits, int V, const SamplingConfig& s, Rng& rng);

}  // namespace aha
