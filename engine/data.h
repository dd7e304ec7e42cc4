// Pretraining data: a token stream split into a training part and a held-out tail,
// and a deterministic sampler of [B, T+1] windows from it.
//
// Until the tasks issue lands, the built-in corpus ("synthetic") is generated text with
// learnable structure: arithmetic with answers, counting, sorting, and short bilingual
// sentences. A path to a UTF-8 text file is accepted as well.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/model.h"
#include "engine/rng.h"

namespace aha {

// The synthetic corpus text (deterministic for a seed), about `bytes` long.
std::string synthetic_corpus(uint64_t seed, size_t bytes);

struct Corpus {
  std::vector<int32_t> train, eval;
  std::string description;  // for logs and the run store
};
// Builds the corpus a DataConfig names; throws IoError (unreadable file) or
// ConfigError (empty, or too short for one sequence of seq_len + 1 tokens).
Corpus load_corpus(const DataConfig& data, uint64_t seed, int seq_len);
// Also handles data.source = "curriculum" (engine/curriculum.h).
Corpus load_corpus(const RunConfig& cfg);
// Splits a token stream into training tokens and a held-out tail (data.eval_fraction).
Corpus split_corpus(std::vector<int32_t> tokens, const DataConfig& data, int seq_len, std::string description);

// Fills a batch with B random windows of T+1 tokens (inputs, targets shifted by one,
// mask 1). The sampler's state is the RNG's, saved with checkpoints for exact resume.
void sample_batch(const std::vector<int32_t>& tokens, int B, int T, Rng& rng, Batch& out);
// Deterministic evaluation batches: consecutive windows from the start of `tokens`.
void eval_batch(const std::vector<int32_t>& tokens, int B, int T, int index, Batch& out);

}  // namespace aha
