#include "engine/data.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/curriculum.h"
#include "engine/tokenizer.h"

namespace aha {

std::string synthetic_corpus(uint64_t seed, size_t bytes) {
  // Lines whose tail is determined by their head, so a model that learns the rule
  // drives its loss well below the entropy of the characters.
  Rng rng(seed);
  std::ostringstream out;
  static const char* en_items[] = {"apples", "books", "cats", "stones", "birds", "cups"};
  static const char* zh_items[] = {"苹果", "书", "猫", "石头", "鸟", "杯子"};
  while ((size_t)out.tellp() < bytes) {
    const int kind = (int)rng.below(5);
    if (kind == 0) {  // addition
      int a = (int)rng.below(1000), b = (int)rng.below(1000);
      out << a << " + " << b << " = " << a + b << "\n";
    } else if (kind == 1) {  // multiplication table
      int a = (int)rng.below(20), b = (int)rng.below(20);
      out << a << " * " << b << " = " << a * b << "\n";
    } else if (kind == 2) {  // counting
      int a = (int)rng.below(90), n = 3 + (int)rng.below(5);
      out << "count:";
      for (int i = 0; i < n; i++) out << " " << a + i;
      out << "\n";
    } else if (kind == 3) {  // sorting
      int n = 3 + (int)rng.below(4);
      std::vector<int> v(n);
      for (auto& x : v) x = (int)rng.below(100);
      out << "sort:";
      for (int x : v) out << " " << x;
      std::sort(v.begin(), v.end());
      out << " ->";
      for (int x : v) out << " " << x;
      out << "\n";
    } else {  // a sentence in English or Chinese
      int i = (int)rng.below(6), n = 2 + (int)rng.below(8);
      if (rng.below(2))
        out << "I have " << n << " " << en_items[i] << ", and you have " << n + 1 << " " << en_items[i] << ".\n";
      else
        out << "我有" << n << "个" << zh_items[i] << "，你有" << n + 1 << "个" << zh_items[i] << "。\n";
    }
  }
  return out.str();
}

Corpus load_corpus(const DataConfig& data, uint64_t seed, int seq_len) {
  std::string text;
  Corpus c;
  if (data.source == "curriculum")
    throw ConfigError("data.source: \"curriculum\" needs the [curriculum] table: use load_corpus(RunConfig)");
  if (data.source == "synthetic") {
    text = synthetic_corpus(seed, data.synthetic_bytes);
    c.description = "synthetic corpus, " + std::to_string(text.size()) + " bytes";
  } else {
    std::ifstream in(data.source, std::ios::binary);
    if (!in) throw IoError("data.source: cannot open '" + data.source + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw IoError("data.source: error reading '" + data.source + "'");
    text = ss.str();
    c.description = data.source + ", " + std::to_string(text.size()) + " bytes";
  }
  return split_corpus(Tokenizer().encode(text), data, seq_len, std::move(c.description));
}

Corpus load_corpus(const RunConfig& cfg) {
  if (cfg.data.source != "curriculum") return load_corpus(cfg.data, cfg.train.seed, cfg.train.seq_len);
  const CurriculumConfig& u = cfg.curriculum;
  return split_corpus(curriculum_tokens(u), cfg.data, cfg.train.seq_len,
                      "curriculum, " + std::to_string(u.pretrain_problems) + " worked problems");
}

Corpus split_corpus(std::vector<int32_t> tokens, const DataConfig& data, int seq_len, std::string description) {
  Corpus c;
  c.description = std::move(description);
  const size_t n_eval = (size_t)(tokens.size() * data.eval_fraction);
  const size_t need = (size_t)seq_len + 1;
  if (tokens.size() - n_eval < need)
    throw ConfigError("data.source: '" + data.source + "' has " + std::to_string(tokens.size() - n_eval) +
                      " training tokens, fewer than one sequence of train.seq_len + 1 = " + std::to_string(need));
  c.eval.assign(tokens.end() - n_eval, tokens.end());
  tokens.resize(tokens.size() - n_eval);
  c.train = std::move(tokens);  // no second copy of a large corpus
  if (c.eval.size() < need) c.eval = c.train;  // tiny corpora: evaluate on training text
  return c;
}

void sample_batch(const std::vector<int32_t>& tokens, int B, int T, Rng& rng, Batch& out) {
  out.B = B; out.T = T;
  out.inputs.resize((size_t)B * T); out.targets.resize((size_t)B * T);
  out.mask.assign((size_t)B * T, 1.0f);
  const size_t span = tokens.size() - T;  // start positions with T+1 tokens available
  for (int b = 0; b < B; b++) {
    const size_t s = rng.below(span);
    for (int t = 0; t < T; t++) {
      out.inputs[(size_t)b * T + t] = tokens[s + t];
      out.targets[(size_t)b * T + t] = tokens[s + t + 1];
    }
  }
}

void eval_batch(const std::vector<int32_t>& tokens, int B, int T, int index, Batch& out) {
  out.B = B; out.T = T;
  out.inputs.resize((size_t)B * T); out.targets.resize((size_t)B * T);
  out.mask.assign((size_t)B * T, 1.0f);
  const size_t windows = (tokens.size() - 1) / T;
  for (int b = 0; b < B; b++) {
    const size_t s = ((size_t)index * B + b) % windows * T;
    for (int t = 0; t < T; t++) {
      out.inputs[(size_t)b * T + t] = tokens[s + t];
      out.targets[(size_t)b * T + t] = tokens[s + t + 1];
    }
  }
}

}  // namespace aha
