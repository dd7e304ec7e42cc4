// Sampling completions through the MLA decoding cache: each prompt is prefilled in one
// forward pass, then all rows (K samples of every prompt) are decoded together, one token
// per step. Stops at <eos>, at </answer> or at max_new_tokens. Greedy decoding can also
// run speculatively: the MTP module drafts the next tokens and the main model verifies
// them in one pass, so k accepted drafts give k+1 tokens for one main-model call.
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
  // MTP speculative decoding, greedy only: the tokens are those of plain greedy decoding
  // (up to float rounding between a one- and a two-token pass, which only matters at an
  // exact tie). InvalidArgument with temperature > 0 or a model without MTP.
  bool speculative = false;
  // Drafts per main-model pass: the MTP module drafts one token from the main model's
  // state, and each further one from its own output (vLLM's reuse of V3's single MTP
  // layer for several speculative tokens). All are checked in one pass of k+1 tokens.
  static constexpr int kMaxDraftTokens = 8;
  int draft_tokens = 1;
  // The MLA cache decoding keeps: Absorbed (the latent, kv_lora_rank + qk_rope_head_dim
  // per token per layer) or Naive (per-head K and V, what an MHA model caches).
  AttnPath attention = AttnPath::Absorbed;
};

struct Completion {
  std::string text;             // decoded completion (specials as their strings)
  std::vector<int32_t> tokens;
  bool truncated = false;       // stopped by max_new_tokens (no <eos> / </answer>)
  // Σ over the sampled tokens of the policy's entropy H(softmax(logits)) in nats, at
  // temperature 1 whatever the sampling's (GRPO's entropy metric, without a second
  // forward pass); 0 from speculative decoding, which does not sample.
  double entropy = 0;
  int drafted = 0, accepted = 0;  // speculative: MTP drafts the main model checked / accepted
  // the same per draft position j (0 = the token after the main model's own): a draft at
  // j is checked only when the ones before it were accepted
  std::vector<int> drafted_at, accepted_at;
};

// K samples of one prompt. on_token(sample, text_piece) is called for every generated
// token but a final <eos> (the live chain of thought; the pieces add up to the text).
// Throws InvalidArgument when the prompt does not fit max_position_embeddings with
// max_new_tokens. Sample k draws from its own RNG, seeded
// from (s.seed, k).
std::vector<Completion> sample(Model& m, const std::string& prompt, int K, const SamplingConfig& s,
                               const std::function<void(int, const std::string&)>& on_token = {});

// Prompt i of a batch samples from seed s.seed + i·kPromptSeedStride (sample_batch,
// sample_batch_parallel's shares, evaluate_task's problems, GRPO's rounds).
constexpr uint64_t kPromptSeedStride = 1000003ull;

// K samples of each prompt, all decoded together in one cache: prompts.size()·K
// completions, prompt-major (completion i·K + k is sample k of prompt i); on_token's first
// argument is that row index. Seeding: row i·K + k gives exactly what
// sample(prompts[i], K, s with seed s.seed + i·kPromptSeedStride) gives as its sample k
// (as evaluate_task seeds its problems), up to float rounding between batch sizes.
// With s.speculative, the prompts are decoded one after another (greedy rows of one
// prompt are identical, so each prompt decodes a single row).
std::vector<Completion> sample_batch(Model& m, const std::vector<std::string>& prompts, int K, const SamplingConfig& s,
                                     const std::function<void(int, const std::string&)>& on_token = {});

// sample_batch over several models that hold the same weights (data-parallel replicas,
// DataParallel::models): the prompts are split into contiguous shares, one per model, and
// each share is decoded by its model on its own thread with single-threaded kernels; the
// completions come back in prompt order. A prompt's rows are seeded from its index in
// `prompts`, as sample_batch seeds them, so the result is sample_batch's up to float
// rounding between batch sizes; for a given number of models it is the same run to run.
// on_token is called from several threads at once (each row always from the same one)
// with the row's index in the whole batch. At batch 1 a decoding step is dozens of small
// products and many OpenMP regions; one thread per share of rows keeps each core busy
// instead of splitting every small op in two (GRPO's generation on an AVX2 EPYC:
// 8,411-8,976 tokens/s against 6,943-7,875 with every kernel on both cores).
std::vector<Completion> sample_batch_parallel(const std::vector<Model*>& models, const std::vector<std::string>& prompts,
                                              int K, const SamplingConfig& s,
                                              const std::function<void(int, const std::string&)>& on_token = {});

// InvalidArgument "<what> must be in [1, kMaxDraftTokens], got k" unless k is a valid
// SamplingConfig::draft_tokens.
void check_draft_tokens(int k, const std::string& what);

// Picks one token from logits[V] with the sampling settings (exposed for tests).
int32_t pick_token(const float* logits, int V, const SamplingConfig& s, Rng& rng);
// Fills rows [i·K, i·K + K) of `cache` (cache.T set to the longest prompt) with prompt
// ptoks[i], right-aligned as Model::prefill does, and writes its next-token logits into
// those rows of step_logits [P·K, V]. Prompts that open with at least kMinSharedPrefix
// common tokens (GRPO's R1 template: ~350 of ~380) run that prefix once into a one-row
// cache and feed only their own tails through Model::decode; the caches and logits then
// equal one prefill per prompt up to float rounding (other kernels and GEMM shapes), so a
// sampled token can differ where two candidates were within rounding of each other.
constexpr int kMinSharedPrefix = 32;
void prefill_prompts(Model& m, Model::DecodeCache& cache, const std::vector<std::vector<int32_t>>& ptoks, int K,
                     std::vector<float>& step_logits);

}  // namespace aha
