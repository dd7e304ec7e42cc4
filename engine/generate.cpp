#include "engine/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "engine/tokenizer.h"

namespace aha {

int32_t pick_token(const float* logits, int V, const SamplingConfig& s, Rng& rng) {
  if (s.temperature <= 0) return (int32_t)(std::max_element(logits, logits + V) - logits);
  std::vector<int> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  int n = V;
  if (s.top_k > 0) n = std::min(n, s.top_k);
  std::vector<double> p(n);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += p[i] = std::exp((logits[idx[i]] - logits[idx[0]]) / s.temperature);
  if (s.top_p < 1.0) {  // the smallest prefix whose mass reaches top_p
    double acc = 0;
    for (int i = 0; i < n; i++) {
      acc += p[i] / sum;
      if (acc >= s.top_p) { n = i + 1; break; }
    }
    sum = 0;
    for (int i = 0; i < n; i++) sum += p[i];
  }
  double u = rng.uniform() * sum;
  for (int i = 0; i < n; i++) {
    u -= p[i];
    if (u <= 0) return idx[i];
  }
  return idx[n - 1];
}

std::vector<Completion> sample(Model& m, const std::string& prompt, int K, const SamplingConfig& s,
                               const std::function<void(int, const std::string&)>& on_token) {
  const ModelConfig& c = m.cfg;
  Tokenizer tok;
  std::vector<int32_t> ptoks = tok.encode(prompt);
  if (ptoks.empty()) throw InvalidArgument("sample: empty prompt");
  const int T = (int)ptoks.size();
  const int capacity = T + s.max_new_tokens;
  if (capacity > c.max_position_embeddings)
    throw InvalidArgument("sample: prompt (" + std::to_string(T) + " tokens) + max_new_tokens (" +
                          std::to_string(s.max_new_tokens) + ") exceeds max_position_embeddings (" +
                          std::to_string(c.max_position_embeddings) + ")");
  // Prefill: one forward pass over the prompt through the absorbed path leaves its cache
  // [T, kv_lora + rope] per layer; every sample starts from a copy of it.
  std::vector<float> logits;
  m.logits(ptoks.data(), 1, T, AttnPath::Absorbed, logits);
  Model::DecodeCache cache = m.new_cache(K, capacity);
  const size_t D = (size_t)c.kv_lora_rank + c.qk_rope_head_dim;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const std::vector<float>& pre = m.absorbed_cache(l);
    for (int b = 0; b < K; b++)
      std::copy(pre.begin(), pre.begin() + (size_t)T * D, cache.layers[l].begin() + (size_t)b * capacity * D);
  }
  cache.T = T;
  const int V = c.vocab_size;
  std::vector<float> step_logits((size_t)K * V);
  for (int b = 0; b < K; b++)
    std::copy(logits.end() - V, logits.end(), step_logits.begin() + (size_t)b * V);

  std::vector<Completion> out(K);
  std::vector<Rng> rngs;
  for (int b = 0; b < K; b++) rngs.emplace_back(s.seed * 0x9E3779B97F4A7C15ull + (uint64_t)b);
  std::vector<char> done(K, 0);
  std::vector<int32_t> next(K, Tokenizer::kPad);
  for (int t = 0; t < s.max_new_tokens; t++) {
    bool all = true;
    for (int b = 0; b < K; b++) {
      if (done[b]) { next[b] = Tokenizer::kPad; continue; }
      next[b] = pick_token(step_logits.data() + (size_t)b * V, V, s, rngs[b]);
      out[b].tokens.push_back(next[b]);
      const std::string piece = tok.token_text(next[b]);
      out[b].text += piece;
      if (on_token) on_token(b, piece);
      if (next[b] == Tokenizer::kEos || next[b] == Tokenizer::kEndAnswer) done[b] = 1;
      all = all && done[b];
    }
    if (all || t + 1 == s.max_new_tokens) break;
    m.decode_step(cache, next.data(), step_logits);  // finished rows decode padding, ignored
  }
  for (int b = 0; b < K; b++) {
    out[b].truncated = !done[b];
    // the completion ends at </answer>; an <eos> right after the answer is not part of it
    if (!out[b].tokens.empty() && out[b].tokens.back() == Tokenizer::kEos) {
      out[b].tokens.pop_back();
      out[b].text.resize(out[b].text.size() - Tokenizer::specials()[Tokenizer::kEos].size());
    }
  }
  return out;
}

}  // namespace aha
