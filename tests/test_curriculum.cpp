// The curriculum, the SFT stage, decoding with the absorbed cache, sampling and
// evaluation, and the data / eval / reward commands.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "engine/curriculum.h"
#include "engine/error.h"
#include "engine/evaluate.h"
#include "engine/generate.h"
#include "engine/rewards.h"
#include "engine/stages.h"
#include "engine/tokenizer.h"

namespace aha {
namespace {
namespace fs = std::filesystem;

// micro-sized model with room for the R1 template, and a small curriculum
RunConfig small_config() {
  RunConfig c = load_config("micro");
  c.model.max_position_embeddings = 1024;
  c.curriculum.pretrain_problems = 300;
  c.curriculum.sft_problems = 60;
  c.curriculum.rl_problems = 40;
  c.curriculum.eval_problems = 30;
  c.curriculum.difficulty_arithmetic = 2;
  c.sft.steps = 5;
  c.sft.batch_size = 4;
  c.sft.seq_len = 640;
  validate(c);
  return c;
}

struct TmpDir {
  fs::path p = fs::temp_directory_path() / ("aha_cur_" + std::to_string(::getpid()));
  TmpDir() { fs::remove_all(p); fs::create_directories(p); }
  ~TmpDir() { fs::remove_all(p); }
};

TEST(Curriculum, DeterministicAndDisjointFromTheEvalSets) {
  const RunConfig c = small_config();
  Curriculum a(c.curriculum), b(c.curriculum);
  EXPECT_EQ(Curriculum::document(a.pretrain(17)), Curriculum::document(b.pretrain(17)));
  EXPECT_NE(Curriculum::document(a.pretrain(17)), Curriculum::document(a.pretrain(18)));
  std::set<std::string> eval_ids;
  for (const std::string& t : task_names())
    for (const Example& e : a.eval(t)) eval_ids.insert(e.problem.task + "|" + e.problem.id);
  EXPECT_EQ(eval_ids.size(), 3u * c.curriculum.eval_problems);
  int langs_zh = 0;
  for (int i = 0; i < 2000; i++) {
    const Example e = a.pretrain(i);
    EXPECT_FALSE(eval_ids.count(e.problem.task + "|" + e.problem.id)) << e.problem.id;
    langs_zh += e.language == "zh";
  }
  for (int i = 0; i < c.curriculum.sft_problems; i++) {
    const Example e = a.sft(i);
    EXPECT_FALSE(eval_ids.count(e.problem.task + "|" + e.problem.id));
    EXPECT_FALSE(language_mix(e.completion).cjk_share > 0) << "the cold-start set is English: " << e.completion;
    EXPECT_NE(e.completion.find("Summary"), std::string::npos);
  }
  EXPECT_NEAR(langs_zh / 2000.0, c.curriculum.zh_fraction, 0.05);
}

// curriculum.carry_style reaches the pretraining and cold-start traces: with "two_facts"
// no arithmetic trace has a three-operand column, with the default "sum" some do.
TEST(Curriculum, CarryStyleReachesPretrainingAndSftTraces) {
  RunConfig c = small_config();
  c.curriculum.weight_arithmetic = 1.0;
  c.curriculum.weight_countdown = c.curriculum.weight_linear = 0.0;
  c.curriculum.self_correction = 0.0;
  const std::regex three("\\d+ [-+*] \\d+ [-+*] \\d+ =");  // "4 + 3 + 1 =", "13 - 1 - 8 =", "4 * 8 + 5 ="
  auto three_operand = [&](const std::string& s) { return std::regex_search(s, three); };
  int sum_style = 0;
  {
    const Curriculum cur(c.curriculum);
    for (int i = 0; i < 200; i++) sum_style += three_operand(cur.pretrain(i).completion);
  }
  EXPECT_GT(sum_style, 20) << "the default style writes carried columns as one sum";
  c.curriculum.carry_style = "two_facts";
  const Curriculum cur(c.curriculum);
  for (int i = 0; i < 200; i++) EXPECT_FALSE(three_operand(cur.pretrain(i).completion)) << cur.pretrain(i).completion;
  for (int i = 0; i < c.curriculum.sft_problems; i++) EXPECT_FALSE(three_operand(cur.sft(i).completion)) << cur.sft(i).completion;
}

TEST(Curriculum, WritesAndReadsTheDataset) {
  TmpDir d;
  const RunConfig c = small_config();
  DataSummary s = write_dataset(c, d.p.string());
  EXPECT_EQ(s.pretrain_docs, 300);
  std::ifstream in(d.p / "pretrain.txt");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  size_t docs = 0;
  for (size_t at = text.find("<bos>"); at != std::string::npos; at = text.find("<bos>", at + 1)) docs++;
  EXPECT_EQ(docs, 300u);
  EXPECT_EQ((int64_t)text.size(), s.pretrain_bytes);
  auto sft = read_examples((d.p / "sft.jsonl").string());
  ASSERT_EQ(sft.size(), 60u);
  EXPECT_EQ(accuracy_reward(sft[3].problem, sft[3].completion).value, 1.0) << sft[3].completion;
  EXPECT_EQ(format_reward(sft[3].completion).value, 1.0);
  auto rl = read_examples((d.p / "rl.jsonl").string());
  EXPECT_EQ(rl.size(), 40u);
  EXPECT_TRUE(rl[0].completion.empty());
  EXPECT_EQ(read_examples((d.p / "eval_countdown.jsonl").string()).size(), 30u);
  auto manifest = nlohmann::json::parse(std::ifstream(d.p / "manifest.json"));
  EXPECT_EQ(manifest["sft_examples"], 60);
  // a damaged line is reported with its file and line number
  std::ofstream(d.p / "bad.jsonl") << rl.size() << "\n" << "{not json\n";
  try {
    read_examples((d.p / "bad.jsonl").string());
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:1"), std::string::npos) << e.what();
  }
}

TEST(Sft, ScoresOnlyCompletionTokensAndLearns) {
  RunConfig c = small_config();
  c.sft.steps = 30;
  c.sft.lr = 3e-3;
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(1);
  SftStage sft(c, m, kernels::cpu_ops());
  double first = 0, last = 0;
  for (int i = 0; i < 30; i++) {
    auto rep = sft.step();
    if (i == 0) first = rep.metrics["lm_loss"];
    last = rep.metrics["lm_loss"];
    // every scored token is a completion token: far fewer than all the tokens
    EXPECT_LT(rep.metrics["scored_tokens"], 0.5 * c.sft.batch_size * c.sft.seq_len);
    EXPECT_GT(rep.metrics["scored_tokens"], 4 * 20);
  }
  EXPECT_LT(last, 0.6 * first) << "SFT loss falls on the cold-start set";
}

TEST(Sft, ResumeIsBitIdentical) {
  // 4 SFT steps straight equal 2 + save + restore + 2: the restored stage continues the
  // example order and optimizer state exactly, and every step starts from zero gradients
  // (a step that kept the last one's gradients differs from a fresh model's)
  RunConfig c = small_config();
  c.sft.steps = 4;
  TmpDir d;
  const std::string mid = (d.p / "mid").string();
  auto run = [&](int n, const std::string& save_to, const std::string& resume_from) {
    Model m(c.model, kernels::cpu_ops());
    m.init_weights(1);
    SftStage sft(c, m, kernels::cpu_ops());
    if (!resume_from.empty()) sft.restore(resume_from);
    for (int i = 0; i < n; i++) sft.step();
    if (!save_to.empty()) sft.save(save_to);
    return m.params.weights;
  };
  const auto straight = run(4, "", "");
  run(2, mid, "");
  const auto resumed = run(2, "", mid);
  ASSERT_EQ(straight.size(), resumed.size());
  EXPECT_TRUE(straight == resumed) << "weights after 4 SFT steps differ from 2 + resume + 2";
}

TEST(Decode, IncrementalCacheMatchesTheFullForward) {
  RunConfig c = small_config();
  c.model.initializer_range = 0.1;
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(5);
  const int T = 24, V = c.model.vocab_size;
  Rng rng(3);
  std::vector<int32_t> toks(T);
  for (auto& t : toks) t = (int32_t)rng.below(V);
  std::vector<float> full;
  m.logits(toks.data(), 1, T, AttnPath::Naive, full);
  // prefill 10 tokens through the absorbed path, then feed the rest one by one
  const int P = 10;
  std::vector<float> pre;
  m.logits(toks.data(), 1, P, AttnPath::Absorbed, pre);
  Model::DecodeCache cache = m.new_cache(2, 64);  // two identical rows
  const size_t D = c.model.kv_lora_rank + c.model.qk_rope_head_dim;
  for (int l = 0; l < c.model.num_hidden_layers; l++)
    for (int b = 0; b < 2; b++)
      std::copy(m.absorbed_cache(l).begin(), m.absorbed_cache(l).begin() + P * D, cache.layers[l].begin() + b * 64 * D);
  cache.T = P;
  double worst = 0;
  std::vector<float> step;
  for (int t = P; t < T; t++) {
    const int32_t two[2] = {toks[t], toks[t]};
    m.decode_step(cache, two, step);
    for (int b = 0; b < 2; b++)
      for (int v = 0; v < V; v++) worst = std::max(worst, (double)std::abs(step[b * V + v] - full[(size_t)t * V + v]));
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(cache.T, T);
}

TEST(Decode, SamplingRules) {
  std::vector<float> logits = {0.1f, 3.0f, 2.9f, -1.0f};
  Rng rng(1);
  SamplingConfig greedy;
  greedy.temperature = 0;
  EXPECT_EQ(pick_token(logits.data(), 4, greedy, rng), 1);
  SamplingConfig k1;
  k1.top_k = 1;
  SamplingConfig p_small;
  p_small.top_p = 0.01;
  std::map<int, int> seen;
  SamplingConfig hot;
  hot.temperature = 1.0;
  for (int i = 0; i < 2000; i++) {
    EXPECT_EQ(pick_token(logits.data(), 4, k1, rng), 1);
    EXPECT_EQ(pick_token(logits.data(), 4, p_small, rng), 1);
    seen[pick_token(logits.data(), 4, hot, rng)]++;
  }
  EXPECT_GT(seen[2], 600);  // exp(2.9)/ (exp(3)+exp(2.9)+...) ≈ 0.45
  EXPECT_GT(seen[1], 600);
}

TEST(Decode, SampleAndEvaluateEndToEnd) {
  RunConfig c = small_config();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(2);
  Curriculum cur(c.curriculum);
  SamplingConfig s;
  s.temperature = 1.0;
  s.max_new_tokens = 30;
  s.seed = 9;
  const std::string prompt = cur.rl(0).prompt + " ";
  std::vector<std::string> streamed(3);
  auto a = sample(m, prompt, 3, s, [&](int k, const std::string& piece) { streamed[k] += piece; });
  auto b = sample(m, prompt, 3, s);
  ASSERT_EQ(a.size(), 3u);
  for (int k = 0; k < 3; k++) {
    EXPECT_EQ(a[k].text, b[k].text) << "same seed, same samples";
    EXPECT_EQ(streamed[k].substr(0, a[k].text.size()), a[k].text) << "the live stream carries the completion";
    EXPECT_LE(a[k].tokens.size(), 30u);
  }
  std::vector<Example> probs = cur.eval("arithmetic");
  probs.resize(4);
  EvalResult r = evaluate_task(m, probs, "arithmetic", 2, s);
  EXPECT_EQ(r.problems, 4);
  EXPECT_EQ(r.traces.size(), 8u);
  for (double v : {r.pass1, r.passk, r.majk, r.format_rate, r.language_mix_rate, r.aha_rate, r.truncated_rate}) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
  }
  EXPECT_LE(r.pass1, r.passk);
  EXPECT_GT(r.mean_length, 0.0);
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {

TEST(TokenizerTest, RoundTripsEveryTextAndNamesBadIds) {
  Tokenizer tok;
  for (const std::string& s : {std::string("Compute 47 + 38."), std::string("个位：7 + 8 = 15，写 5 进 1。"),
                               std::string("<think> a </think> <answer> 85 </answer>"), std::string("\xff\xfe bad utf-8 \xc3"),
                               std::string(""), std::string("<thinking> is not a tag")}) {
    const auto ids = tok.encode(s);
    EXPECT_EQ(tok.decode(ids), s);
    for (int32_t id : ids) EXPECT_LT(id, tok.size());
  }
  EXPECT_EQ(tok.encode("<think>"), std::vector<int32_t>{Tokenizer::kThink});
  EXPECT_EQ(tok.encode("<answer>x</answer>"),
            (std::vector<int32_t>{Tokenizer::kAnswer, Tokenizer::kByteOffset + 'x', Tokenizer::kEndAnswer}));
  EXPECT_EQ(tok.encode("中").size(), 3u) << "CJK characters are their UTF-8 bytes";
  try {
    tok.decode({5, 264});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("264"), std::string::npos);
  }
}

}  // namespace
}  // namespace aha
