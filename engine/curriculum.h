// The generated curriculum ([curriculum] of the config): a bilingual pretraining corpus of
// worked problems (some reasoning switches language mid-trace, some makes a mistake and
// catches it), the English cold-start SFT set, the RL prompt set and held-out eval sets.
//
// Files written by `aha data --out DIR` (one problem per JSONL line, Problem::to_json
// fields plus "prompt" and, where there is one, "completion"):
//   pretrain.txt        documents "<bos>PROMPT COMPLETION<eos>\n", PROMPT in the R1 template
//                       (template_fraction of them) or its last line "User: Q. Assistant:"
//   sft.jsonl           cold-start set: English, readable reasoning then a summary
//   rl.jsonl            prompts for reinforcement learning (no completion)
//   eval_TASK.jsonl     held-out problems of each task (disjoint from everything above)
//   manifest.json       counts, bytes and the configuration that produced them
// Everything is generated problem by problem and streamed to disk.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/task.h"

namespace aha {

// One worked example: the problem, its R1 prompt and a completion (may be empty).
struct Example {
  Problem problem;
  std::string prompt, completion;
  std::string language = "en";
};

class Curriculum {
 public:
  explicit Curriculum(const CurriculumConfig& c);
  // The i-th pretraining example (any language / style, train split).
  Example pretrain(int64_t i) const;
  // The i-th cold-start SFT example (English, cold-start style, train split).
  Example sft(int64_t i) const;
  // The i-th RL prompt (train split, no completion).
  Example rl(int64_t i) const;
  // The held-out eval problems of one task (eval split), as prompts.
  std::vector<Example> eval(const std::string& task) const;
  // The pretraining document of an example: "<bos>" prompt " " completion "<eos>\n".
  static std::string document(const Example& e);
  const CurriculumConfig& config() const { return c_; }
  int difficulty(const std::string& task) const;

 private:
  const Task& pick_task(Rng& rng) const;
  Problem train_problem(const Task& t, Rng& rng) const;  // draws until it is in the train split
  CurriculumConfig c_;
};

// Streams the whole dataset into `dir` (created). progress(done, total) is called now
// and then. Throws IoError (the directory or a file cannot be written).
struct DataSummary { int64_t pretrain_docs = 0, pretrain_bytes = 0, sft = 0, rl = 0, eval = 0; };
DataSummary write_dataset(const RunConfig& cfg, const std::string& dir,
                          const std::function<void(int64_t, int64_t)>& progress = {});

// Pretraining tokens of the curriculum, encoded document by document (no intermediate text).
std::vector<int32_t> curriculum_tokens(const CurriculumConfig& c);

// Loads examples from a JSONL file written by write_dataset (sft.jsonl, rl.jsonl, eval_*.jsonl).
// FormatError names the file and line of a bad record.
std::vector<Example> read_examples(const std::string& path);

}  // namespace aha
