#include "engine/generate.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>

#include "engine/error.h"
#include "engine/tokenizer.h"

namespace aha {

void check_draft_tokens(int k, const std::string& what) {
  if (k < 1 || k > SamplingConfig::kMaxDraftTokens)
    throw InvalidArgument(what + " must be in [1, " + std::to_string(SamplingConfig::kMaxDraftTokens) + "], got " +
                          std::to_string(k));
}

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

namespace {

bool stops(int32_t t) { return t == Tokenizer::kEos || t == Tokenizer::kEndAnswer; }

// The completion ends at </answer>; an <eos> right after the answer is not part of it.
void finish(Completion& c, bool done) {
  c.truncated = !done;
  if (!c.tokens.empty() && c.tokens.back() == Tokenizer::kEos) {
    c.tokens.pop_back();
    c.text.resize(c.text.size() - Tokenizer::specials()[Tokenizer::kEos].size());
  }
}

// The prompts' tokens; InvalidArgument for an empty prompt or one that does not fit
// max_position_embeddings with max_new_tokens.
std::vector<std::vector<int32_t>> encode_prompts(const ModelConfig& c, const std::vector<std::string>& prompts,
                                                 const SamplingConfig& s) {
  Tokenizer tok;
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < prompts.size(); i++) {
    std::string which;  // names the prompt when there are several
    if (prompts.size() > 1) which.append(" ").append(std::to_string(i));
    out.push_back(tok.encode(prompts[i]));
    const int T = (int)out.back().size();
    if (T == 0) throw InvalidArgument("sample: empty prompt" + which);
    if (s.max_new_tokens < 0) throw InvalidArgument("sample: max_new_tokens must be >= 0");
    if (T + s.max_new_tokens > c.max_position_embeddings)
      throw InvalidArgument("sample: prompt" + which + " (" + std::to_string(T) + " tokens) + max_new_tokens (" +
                            std::to_string(s.max_new_tokens) + ") exceeds max_position_embeddings (" +
                            std::to_string(c.max_position_embeddings) + ")");
  }
  return out;
}

// The cache with only rows keep[i] of c (in that order), their filled slots copied.
Model::DecodeCache keep_rows(const Model& m, const Model::DecodeCache& c, const std::vector<int>& keep) {
  Model::DecodeCache o = m.new_cache((int)keep.size(), c.capacity, c.path);
  o.T = c.T;
  for (size_t i = 0; i < keep.size(); i++) o.start[i] = c.start.empty() ? 0 : c.start[keep[i]];
  const size_t row = (size_t)c.capacity * c.width, filled = (size_t)c.T * c.width;
  for (size_t l = 0; l < c.layers.size(); l++) {
    for (int i = 0; i < o.B; i++)
      std::copy_n(c.layers[l].data() + (size_t)keep[i] * row, filled, o.layers[l].data() + (size_t)i * row);
  }
  return o;
}

// Greedy decoding of one prompt with MTP drafts (one row: greedy samples are identical).
// State at the top of a round: the main cache holds positions 0..n (its hidden state h_n
// is known), `last` = t_{n+1} has been emitted but not fed, and the MTP cache holds its
// entries 0..n — entry i is built from (h_i, t_{i+1}) — the last of which drafted
// d_1 = t_{n+2}, with g = the MTP block's output there.
//  1. k > 1: the MTP module chains on its own output, as vLLM reuses DeepSeek-V3's single
//     MTP layer for several speculative tokens: entry n+j reads (g, d_j) in place of
//     (h_{n+j}, t_{n+j+1}) and drafts d_{j+1}. These entries are provisional: rolled
//     back before the verified ones are written.
//  2. One main pass feeds [t_{n+1}, d_1 .. d_k] at positions n+1 .. n+k+1. Its argmax
//     at n+1 is the true t_{n+2}; while it equals the draft fed after it, the next
//     argmax is the true token too — a accepted drafts give a+1 tokens for one pass.
//  3. The main cache keeps positions n+1 .. n+1+a (the rejected drafts' slots are
//     overwritten next); the MTP cache gets its true entries (h, t) for the same
//     positions, and the last one drafts the next round's d_1.
Completion speculative_greedy(Model& m, const std::vector<int32_t>& ptoks, const SamplingConfig& s,
                              const std::function<void(const std::string&)>& emit_piece) {
  const int T = (int)ptoks.size(), V = m.cfg.vocab_size, k = s.draft_tokens;
  Tokenizer tok;
  Completion out;
  out.drafted_at.assign(k, 0);
  out.accepted_at.assign(k, 0);
  if (s.max_new_tokens == 0) { finish(out, false); return out; }
  Rng unused(0);  // greedy picks draw nothing
  auto argmax = [&](const std::vector<float>& logits, int row) {
    return pick_token(logits.data() + (size_t)row * V, V, s, unused);
  };
  bool done = false;
  auto emit = [&](int32_t t) {  // true when decoding stops after t
    out.tokens.push_back(t);
    const std::string piece = tok.token_text(t);
    out.text += piece;
    if (emit_piece && t != Tokenizer::kEos) emit_piece(piece);  // the completion has no final <eos>
    done = stops(t);
    return done || (int)out.tokens.size() == s.max_new_tokens;
  };
  // Room: prompt + every emitted token but the last + k drafts.
  const int capacity = T + s.max_new_tokens + k;
  Model::DecodeCache main = m.new_cache(1, capacity, s.attention);
  Model::DecodeCache mtp = m.new_mtp_cache(1, capacity, s.attention);
  std::vector<float> logits, hidden, mtp_logits, g;  // [n, V], [n, d], [1, V], [1, d]
  main.T = T;
  m.prefill(main, 0, 1, ptoks.data(), T, logits, &hidden);
  int32_t last = argmax(logits, T - 1);
  if (emit(last)) { finish(out, done); return out; }
  // the MTP module over the prompt: position i reads (h_i, t_{i+1}); the last one drafts
  std::vector<int32_t> next(ptoks.begin() + 1, ptoks.end());
  next.push_back(last);
  m.mtp_decode(mtp, hidden.data(), next.data(), T, mtp_logits, true, &g);
  std::vector<int32_t> feed(k + 1);  // [t_{n+1}, d_1 .. d_k]
  feed[1] = argmax(mtp_logits, 0);
  for (;;) {
    for (int j = 1; j < k; j++) {  // 1. chained drafts d_2 .. d_k (provisional entries)
      const std::vector<float> gin = g;
      m.mtp_decode(mtp, gin.data(), &feed[j], 1, mtp_logits, false, &g);
      feed[j + 1] = argmax(mtp_logits, 0);
    }
    mtp.T -= k - 1;
    feed[0] = last;
    m.decode(main, feed.data(), k + 1, logits, &hidden);  // 2. verify
    int a = 0;                                            // drafts accepted
    bool stop = false;
    std::vector<int32_t> got;  // the tokens this round emits: the argmax at n+1 .. n+1+a
    for (int j = 0; j <= k; j++) {
      const int32_t t = argmax(logits, j);
      got.push_back(t);
      if (j < k) out.drafted_at[j]++;
      const bool ok = j < k && t == feed[j + 1];
      if (ok) out.accepted_at[j]++;
      if ((stop = emit(t))) break;
      if (!ok) break;
      a++;
    }
    if (stop) break;
    main.T -= k - a;  // 3. the rejected drafts' slots
    m.mtp_decode(mtp, hidden.data(), got.data(), a + 1, mtp_logits, true, &g);
    feed[1] = argmax(mtp_logits, 0);
    last = got.back();
  }
  for (int j = 0; j < k; j++) out.drafted += out.drafted_at[j], out.accepted += out.accepted_at[j];
  finish(out, done);
  return out;
}

// Tokens every prompt opens with, leaving each at least one of its own (its last logits).
int shared_prefix(const std::vector<std::vector<int32_t>>& ptoks) {
  if (ptoks.size() < 2) return 0;
  size_t n = ptoks[0].size();
  for (const auto& p : ptoks) {
    n = std::min(n, p.size() - 1);
    size_t i = 0;
    while (i < n && p[i] == ptoks[0][i]) i++;
    n = i;
  }
  return (int)n;
}
}  // namespace

void prefill_prompts(Model& m, Model::DecodeCache& cache, const std::vector<std::vector<int32_t>>& ptoks, int K,
                     std::vector<float>& step_logits) {
  const int P = (int)ptoks.size(), V = m.cfg.vocab_size;
  if (K < 1 || (int64_t)P * K > cache.B || step_logits.size() < (size_t)P * K * V)
    throw InvalidArgument("prefill_prompts: " + std::to_string(P) + " prompts x " + std::to_string(K) +
                          " rows need that many cache rows (" + std::to_string(cache.B) + ") and logits rows");
  for (const auto& p : ptoks)
    if (p.empty() || (int)p.size() > cache.T)
      throw InvalidArgument("prefill_prompts: a prompt of " + std::to_string(p.size()) + " tokens does not fit the cache's " +
                            std::to_string(cache.T) + " filled slots");
  std::vector<float> logits;
  auto to_rows = [&](int i) {
    for (int k = 0; k < K; k++) std::copy(logits.end() - V, logits.end(), step_logits.begin() + (size_t)(i * K + k) * V);
  };
  const int Lc = shared_prefix(ptoks);
  if (Lc < kMinSharedPrefix) {
    for (int i = 0; i < P; i++) {
      m.prefill(cache, i * K, K, ptoks[i].data(), (int)ptoks[i].size(), logits);
      to_rows(i);
    }
    return;
  }
  Model::DecodeCache one = m.new_cache(1, cache.T, cache.path);
  one.T = Lc;
  m.prefill(one, 0, 1, ptoks[0].data(), Lc, logits);
  if (cache.start.empty()) cache.start.assign(cache.B, 0);
  const size_t W = cache.width;
  for (int i = 0; i < P; i++) {
    const int T = (int)ptoks[i].size();
    one.T = Lc;  // back to the prefix: the previous prompt's tail is overwritten
    m.decode(one, ptoks[i].data() + Lc, T - Lc, logits);
    to_rows(i);
    const int s0 = cache.T - T;  // right-aligned like prefill: the last token in slot cache.T - 1
    for (size_t l = 0; l < cache.layers.size(); l++)
      for (int r = i * K; r < (i + 1) * K; r++)
        std::copy_n(one.layers[l].data(), (size_t)T * W,
                    cache.layers[l].data() + ((size_t)r * cache.capacity + s0) * W);
    for (int r = i * K; r < (i + 1) * K; r++) cache.start[r] = s0;
  }
}

std::vector<Completion> sample(Model& m, const std::string& prompt, int K, const SamplingConfig& s,
                               const std::function<void(int, const std::string&)>& on_token) {
  return sample_batch(m, {prompt}, K, s, on_token);
}

std::vector<Completion> sample_batch(Model& m, const std::vector<std::string>& prompts, int K, const SamplingConfig& s,
                                     const std::function<void(int, const std::string&)>& on_token) {
  const ModelConfig& c = m.cfg;
  if (prompts.empty()) throw InvalidArgument("sample: no prompts");
  if (K < 1) throw InvalidArgument("sample: need at least one sample per prompt, got " + std::to_string(K));
  if (s.speculative && s.temperature > 0)
    throw InvalidArgument("sample: speculative decoding is greedy only (temperature 0), got temperature " +
                          std::to_string(s.temperature));
  if (s.speculative) check_draft_tokens(s.draft_tokens, "sample: draft_tokens");
  const std::vector<std::vector<int32_t>> ptoks = encode_prompts(c, prompts, s);
  const int P = (int)prompts.size(), R = P * K, V = c.vocab_size;
  std::vector<Completion> out(R);
  if (s.speculative) {
    for (int i = 0; i < P; i++) {
      std::function<void(const std::string&)> emit;
      if (on_token) emit = [&](const std::string& piece) { for (int k = 0; k < K; k++) on_token(i * K + k, piece); };
      const Completion one = speculative_greedy(m, ptoks[i], s, emit);
      for (int k = 0; k < K; k++) out[(size_t)i * K + k] = one;
    }
    return out;
  }

  // Prefill: one forward pass per prompt (or its tail after a shared prefix) leaves its
  // cache, copied into its K rows. Rows are right-aligned on the longest prompt, so all
  // rows share the next slot.
  int Tmax = 0;
  for (const auto& p : ptoks) Tmax = std::max(Tmax, (int)p.size());
  Model::DecodeCache cache = m.new_cache(R, Tmax + s.max_new_tokens, s.attention);
  cache.T = Tmax;
  std::vector<float> step_logits((size_t)R * V);  // [R, V]
  prefill_prompts(m, cache, ptoks, K, step_logits);

  Tokenizer tok;
  std::vector<Rng> rngs;
  for (int i = 0; i < P; i++)
    for (int k = 0; k < K; k++)
      rngs.emplace_back((s.seed + (uint64_t)i * kPromptSeedStride) * 0x9E3779B97F4A7C15ull + (uint64_t)k);
  std::vector<char> done(R, 0);
  std::vector<int> rows(R);  // the completion each cache row holds
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<int32_t> next(R, Tokenizer::kPad);
  for (int t = 0; t < s.max_new_tokens; t++) {
    bool all = true;
    int finished = 0;
    for (size_t i = 0; i < rows.size(); i++) {
      const int b = rows[i];
      if (done[b]) { next[i] = Tokenizer::kPad; finished++; continue; }
      next[i] = pick_token(step_logits.data() + i * V, V, s, rngs[b]);
      // over the completion's tokens: a final <eos> is not one of them (finish drops it)
      if (next[i] != Tokenizer::kEos) out[b].entropy += logits_entropy(step_logits.data() + i * V, V);
      out[b].tokens.push_back(next[i]);
      const std::string piece = tok.token_text(next[i]);
      out[b].text += piece;
      if (on_token && next[i] != Tokenizer::kEos) on_token(b, piece);  // the completion has no final <eos>
      if (stops(next[i])) done[b] = 1, finished++;
      all = all && done[b];
    }
    if (all || t + 1 == s.max_new_tokens) break;
    if (finished * 4 >= (int)rows.size()) {
      // a quarter of the rows are done: drop them from the cache rather than decode
      // their padding (completions of one batch differ in length by tens of tokens)
      std::vector<int> keep;
      for (size_t i = 0; i < rows.size(); i++)
        if (!done[rows[i]]) keep.push_back((int)i);
      cache = keep_rows(m, cache, keep);
      std::vector<int> r2;
      std::vector<int32_t> n2;
      for (int i : keep) r2.push_back(rows[i]), n2.push_back(next[i]);
      rows.swap(r2);
      next.swap(n2);
    }
    m.decode_step(cache, next.data(), step_logits);  // finished rows still here decode padding, ignored
  }
  for (int b = 0; b < R; b++) finish(out[b], done[b]);
  return out;
}

std::vector<Completion> sample_batch_parallel(const std::vector<Model*>& models, const std::vector<std::string>& prompts,
                                              int K, const SamplingConfig& s,
                                              const std::function<void(int, const std::string&)>& on_token) {
  if (models.empty()) throw InvalidArgument("sample_batch_parallel: no models");
  for (const Model* m : models)
    if (!m) throw InvalidArgument("sample_batch_parallel: a null model");
  const int P = (int)prompts.size(), W = std::min((int)models.size(), P);
  if (W <= 1) return sample_batch(*models[0], prompts, K, s, on_token);
  std::vector<std::vector<Completion>> parts(W);
  std::vector<std::exception_ptr> errors(W);
  // An exception must not cross the region (bad arguments included: each share's
  // sample_batch checks them): it is kept and rethrown after.
#pragma omp parallel for num_threads(W) schedule(static, 1)
  for (int w = 0; w < W; w++) {
    try {
      const int p0 = P * w / W, p1 = P * (w + 1) / W;
      const std::vector<std::string> share(prompts.begin() + p0, prompts.begin() + p1);
      SamplingConfig sw = s;
      sw.seed = s.seed + (uint64_t)p0 * kPromptSeedStride;  // prompt p0 + i seeds as prompt i of the share
      std::function<void(int, const std::string&)> sink;
      if (on_token) sink = [&on_token, base = p0 * K](int row, const std::string& piece) { on_token(base + row, piece); };
      parts[w] = sample_batch(*models[w], share, K, sw, sink);
    } catch (...) {
      errors[w] = std::current_exception();
    }
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  std::vector<Completion> out;
  out.reserve((size_t)P * K);
  for (auto& part : parts)
    for (auto& c : part) out.push_back(std::move(c));
  return out;
}

}  // namespace aha
