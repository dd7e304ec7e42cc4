// Incremental decoding: both MLA caches against the full forward (also with rows of
// different lengths and after a rollback), the MTP draft module against its training
// forward, speculative greedy against plain greedy, batched sampling against per-prompt
// sampling, and the decode benchmark.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <nlohmann/json.hpp>

#include "engine/bench.h"
#include "engine/error.h"
#include "engine/data_parallel.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/rng.h"
#include "engine/stages.h"
#include "engine/tokenizer.h"

namespace aha {
namespace {

// micro with larger weights, so that logits are far from flat and differences show
RunConfig micro(double init = 0.1) {
  RunConfig c = load_config("micro");
  c.model.initializer_range = init;
  return c;
}

std::vector<int32_t> random_tokens(int n, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = (int32_t)r.below(Tokenizer::kSize);
  return t;
}

// max |a − b| over n values, relative to max(1, max |b|)
double rel_diff(const float* a, const float* b, size_t n) {
  double d = 0, scale = 1;
  for (size_t i = 0; i < n; i++) {
    d = std::max(d, (double)std::abs(a[i] - b[i]));
    scale = std::max(scale, (double)std::abs(b[i]));
  }
  return d / scale;
}

// What sample_batch(…, prompts, K, s) owes row i·K + k: sample k of prompt i alone, seeded
// as prompt i of the batch.
std::vector<Completion> sample_alone(Model& m, const std::string& prompt, size_t i, int K, const SamplingConfig& s) {
  SamplingConfig si = s;
  si.seed = s.seed + i * kPromptSeedStride;
  return sample(m, prompt, K, si);
}

const AttnPath kPaths[] = {AttnPath::Absorbed, AttnPath::Naive};
const char* name(AttnPath p) { return p == AttnPath::Naive ? "naive" : "absorbed"; }

// `aha bench train`'s MFU divides by the best FMA peak ever probed on this machine (a
// probe that shares the cores reads low and would inflate MFU); the run's own probe is
// reported beside it. An inflated cached best must therefore be what MFU uses.
TEST(BenchTrain, MfuUsesTheBestPeakAndReportsThisRunsProbe) {
  namespace fs = std::filesystem;
  const RunConfig cfg = load_config("micro");
  const fs::path cache = fs::temp_directory_path() / ("aha_peak_" + std::to_string(::getpid()) + ".txt");
  fs::remove(cache);
  const TrainBench r = bench_train(cfg, 1, cache.string());
  EXPECT_GT(r.peak_probe_gflops, 0.0);
  EXPECT_LE(r.peak_probe_gflops, r.peak_gflops);
  EXPECT_DOUBLE_EQ(r.mfu, r.achieved_gflops / r.peak_gflops);
  const auto j = nlohmann::json::parse(r.to_json());
  EXPECT_DOUBLE_EQ(j.at("peak_probe_gflops").get<double>(), r.peak_probe_gflops);
  // the cache holds "key\nvalue\n": raise the stored best tenfold
  std::string key, value;
  {
    std::ifstream in(cache);
    ASSERT_TRUE(std::getline(in, key) && std::getline(in, value)) << "no cached peak at " << cache;
  }
  std::ofstream(cache) << key << "\n" << std::stod(value) * 10 << "\n";
  const TrainBench r2 = bench_train(cfg, 1, cache.string());
  EXPECT_DOUBLE_EQ(r2.peak_gflops, std::stod(value) * 10);
  EXPECT_LT(r2.peak_probe_gflops, r2.peak_gflops);
  EXPECT_DOUBLE_EQ(r2.mfu, r2.achieved_gflops / r2.peak_gflops);
  fs::remove(cache);
}

TEST(DecodeCache, BothCachesMatchTheFullForwardAndEachOther) {
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(5);
  const int T = 30, P = 10, V = c.model.vocab_size;
  const auto toks = random_tokens(T, 3);
  std::vector<float> full;
  m.logits(toks.data(), 1, T, AttnPath::Naive, full);  // [T, V]
  std::vector<std::vector<float>> per_path;
  for (AttnPath path : kPaths) {
    Model::DecodeCache cache = m.new_cache(1, 40, path);
    EXPECT_EQ(cache.width, path == AttnPath::Absorbed
                               ? c.model.kv_lora_rank + c.model.qk_rope_head_dim
                               : c.model.num_attention_heads * (c.model.qk_head_dim() + c.model.v_head_dim));
    cache.T = P;
    std::vector<float> out, step;
    m.prefill(cache, 0, 1, toks.data(), P, out);
    double worst = rel_diff(out.data(), full.data(), (size_t)P * V);
    // then 1, 2 and 3 tokens per call: position t's logits are those of the full forward
    for (int t = P, n = 1; t < T; t += n, n = n % 3 + 1) {
      n = std::min(n, T - t);
      m.decode(cache, toks.data() + t, n, step);
      worst = std::max(worst, rel_diff(step.data(), full.data() + (size_t)t * V, (size_t)n * V));
      out.insert(out.end(), step.begin(), step.end());
    }
    EXPECT_LT(worst, 1e-4) << name(path);
    EXPECT_EQ(cache.T, T);
    per_path.push_back(out);
  }
  EXPECT_LT(rel_diff(per_path[0].data(), per_path[1].data(), per_path[0].size()), 1e-4)
      << "absorbed and naive decoding agree";
  // the naive cache is what an MHA model keeps: the ratio kv_bytes_per_token reports
  EXPECT_DOUBLE_EQ((double)m.new_cache(1, 8, AttnPath::Naive).width / m.new_cache(1, 8).width,
                   m.kv_bytes_per_token(false) / m.kv_bytes_per_token(true));
}

TEST(DecodeCache, RowsOfDifferentLengthsDecodeTogether) {
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(7);
  const int V = c.model.vocab_size, steps = 6;
  const std::vector<int> lens = {5, 12, 9};  // prompt lengths; the rows right-align on 12
  std::vector<std::vector<int32_t>> seqs;
  std::vector<std::vector<float>> full(3);
  for (int i = 0; i < 3; i++) {
    seqs.push_back(random_tokens(lens[i] + steps, 11 + i));
    m.logits(seqs[i].data(), 1, (int)seqs[i].size(), AttnPath::Absorbed, full[i]);
  }
  for (AttnPath path : kPaths) {
    Model::DecodeCache cache = m.new_cache(3, 12 + steps, path);
    cache.T = 12;
    std::vector<float> pre, step;
    double worst = 0;
    for (int i = 0; i < 3; i++) {
      m.prefill(cache, i, 1, seqs[i].data(), lens[i], pre);
      EXPECT_EQ(cache.start[i], 12 - lens[i]);
      worst = std::max(worst, rel_diff(pre.data() + (size_t)(lens[i] - 1) * V,
                                       full[i].data() + (size_t)(lens[i] - 1) * V, V));
    }
    for (int s = 0; s < steps; s++) {
      const int32_t next[3] = {seqs[0][lens[0] + s], seqs[1][lens[1] + s], seqs[2][lens[2] + s]};
      m.decode_step(cache, next, step);
      for (int i = 0; i < 3; i++)
        worst = std::max(worst, rel_diff(step.data() + (size_t)i * V, full[i].data() + (size_t)(lens[i] + s) * V, V));
    }
    EXPECT_LT(worst, 1e-4) << name(path);
  }
}

TEST(DecodeCache, RollingBackDiscardsTheNewestSlot) {
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(9);
  const int V = c.model.vocab_size;
  auto seq = random_tokens(14, 21);  // prompt 12, then [seq[12], wrong] rolled back to [seq[12], seq[13]]
  std::vector<float> full, step;
  m.logits(seq.data(), 1, 14, AttnPath::Absorbed, full);
  for (AttnPath path : kPaths) {
    Model::DecodeCache cache = m.new_cache(1, 16, path);
    cache.T = 12;
    m.prefill(cache, 0, 1, seq.data(), 12, step);
    const int32_t guess[2] = {seq[12], (seq[13] + 1) % V};
    m.decode(cache, guess, 2, step);
    cache.T--;  // the guess was wrong
    m.decode_step(cache, &seq[13], step);
    EXPECT_LT(rel_diff(step.data(), full.data() + (size_t)13 * V, V), 1e-4) << name(path);
  }
}

TEST(DecodeCache, BadCallsAreInvalidArguments) {
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(1);
  std::vector<float> out;
  Model::DecodeCache cache = m.new_cache(1, 3);
  const int32_t toks[3] = {1, 2, 3}, bad = 264;
  EXPECT_THROW(m.decode_step(cache, &bad, out), InvalidArgument);
  EXPECT_THROW(m.prefill(cache, 0, 1, toks, 2, out), InvalidArgument) << "cache.T is 0: no room to right-align";
  m.decode(cache, toks, 3, out);
  EXPECT_THROW(m.decode_step(cache, toks, out), InvalidArgument) << "full";
  Model::DecodeCache mtp = m.new_mtp_cache(1, 4);
  EXPECT_THROW(m.decode_step(mtp, toks, out), InvalidArgument) << "an MTP cache is not the main model's";
  EXPECT_THROW(m.new_cache(0, 4), InvalidArgument);
  EXPECT_THROW(m.new_cache(1, c.model.max_position_embeddings + 1), InvalidArgument);
  RunConfig no_mtp = micro();
  no_mtp.model.num_nextn_predict_layers = 0;
  Model plain(no_mtp.model, kernels::cpu_ops());
  EXPECT_THROW(plain.new_mtp_cache(1, 4), InvalidArgument);
}

TEST(DecodeMtp, DraftLogitsMatchTheTrainingForward) {
  // the MTP loss of the training forward, recomputed from mtp_decode's logits
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(4);
  const int T = 20, V = c.model.vocab_size;
  const auto seq = random_tokens(T + 1, 8);
  Batch b;
  b.B = 1;
  b.T = T;
  b.inputs.assign(seq.begin(), seq.end() - 1);
  b.targets.assign(seq.begin() + 1, seq.end());
  b.mask.assign(T, 1.0f);
  const LossParts lp = m.forward_loss(b);
  for (AttnPath path : kPaths) {
    Model::DecodeCache cache = m.new_cache(1, T, path);
    cache.T = T;
    std::vector<float> logits, hidden, draft;
    m.prefill(cache, 0, 1, b.inputs.data(), T, logits, &hidden);
    // position i reads (h_i, t_{i+1}) and predicts t_{i+2}, for i < T − 1; fed 7 + 12
    Model::DecodeCache mc = m.new_mtp_cache(1, T, path);
    std::vector<float> all, part;
    m.mtp_decode(mc, hidden.data(), b.inputs.data() + 1, 7, part);
    all = part;
    m.mtp_decode(mc, hidden.data() + (size_t)7 * c.model.hidden_size, b.inputs.data() + 8, T - 8, part);
    all.insert(all.end(), part.begin(), part.end());
    double ce = 0;
    for (int i = 0; i + 1 < T; i++) {
      const float* l = all.data() + (size_t)i * V;
      double mx = *std::max_element(l, l + V), z = 0;
      for (int v = 0; v < V; v++) z += std::exp(l[v] - mx);
      ce += mx + std::log(z) - l[b.targets[i + 1]];
    }
    ce /= T - 1;
    EXPECT_NEAR(ce, lp.mtp[0], 1e-4 * lp.mtp[0]) << name(path);
  }
}

TEST(DecodeMtp, LastOnlyGivesTheLastRowsLogitsAndTheSameCache) {
  // last_only skips attention, FFN and head for all but each row's last position: the
  // last logits and every cache entry must be those of the full pass
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(6);
  const int B = 2, n = 9, d = c.model.hidden_size, V = c.model.vocab_size;
  std::vector<float> h((size_t)B * n * d);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  for (float& v : h) v = nd(rng);
  const auto next = random_tokens(B * n, 9);
  for (AttnPath path : kPaths) {
    Model::DecodeCache full = m.new_mtp_cache(B, n + 1, path), last = m.new_mtp_cache(B, n + 1, path);
    std::vector<float> lf, ll;
    m.mtp_decode(full, h.data(), next.data(), n, lf);
    m.mtp_decode(last, h.data(), next.data(), n, ll, true);
    ASSERT_EQ(ll.size(), (size_t)B * V);
    EXPECT_EQ(full.T, last.T);
    for (int b = 0; b < B; b++)
      for (int v = 0; v < V; v++)
        EXPECT_NEAR(ll[(size_t)b * V + v], lf[((size_t)b * n + n - 1) * V + v], 1e-5f) << name(path) << " row " << b;
    for (size_t i = 0; i < full.layers[0].size(); i++)
      ASSERT_NEAR(full.layers[0][i], last.layers[0][i], 1e-6f) << name(path) << " cache value " << i;
    // and the next step reads that cache the same way
    std::vector<float> step_f, step_l;
    m.mtp_decode(full, h.data(), next.data(), 1, step_f);
    m.mtp_decode(last, h.data(), next.data(), 1, step_l, true);
    for (size_t i = 0; i < step_f.size(); i++) EXPECT_NEAR(step_f[i], step_l[i], 1e-5f) << name(path);
  }
}

// A model of config c after `steps` pretraining steps on c's data (from c.train.seed).
std::unique_ptr<Model> pretrained(const RunConfig& c, int steps) {
  auto m = std::make_unique<Model>(c.model, kernels::cpu_ops());
  m->init_weights(c.train.seed);
  PretrainStage stage(c, *m, kernels::cpu_ops());
  for (int i = 0; i < steps; i++) stage.step();
  return m;
}

// micro after 60 pretraining steps: its MTP module drafts well enough to be accepted often
Model& trained_micro() {
  static const std::unique_ptr<Model> model = pretrained(load_config("micro"), 60);
  return *model;
}

TEST(DecodeSpeculative, GreedyIsTokenForTokenPlainGreedy) {
  const RunConfig rc = micro(0.02);
  Model random_model(rc.model, kernels::cpu_ops());
  random_model.init_weights(3);
  std::vector<int> drafted(3), accepted(3);  // by draft_tokens - 1
  for (Model* m : {&trained_micro(), &random_model})
    for (const std::string prompt : {"<bos>12 + 345 = ", "<bos>count: 41 42 43", "<bos>sort: 9 3 7 ->"})
      for (AttnPath path : kPaths)
        for (int dk = 1; dk <= 3; dk++) {
          SCOPED_TRACE("draft_tokens " + std::to_string(dk));
          SamplingConfig s;
          s.temperature = 0;
          s.max_new_tokens = 64;
          s.attention = path;
          const auto plain = sample(*m, prompt, 2, s);
          s.speculative = true;
          s.draft_tokens = dk;
          std::vector<std::string> streamed(2);
          const auto spec = sample(*m, prompt, 2, s, [&](int k, const std::string& p) { streamed[k] += p; });
          ASSERT_EQ(spec.size(), 2u);
          for (int k = 0; k < 2; k++) {
            EXPECT_EQ(spec[k].tokens, plain[k].tokens) << prompt << " " << name(path);
            EXPECT_EQ(spec[k].text, plain[k].text);
            EXPECT_EQ(spec[k].truncated, plain[k].truncated);
            EXPECT_EQ(streamed[k], spec[k].text);
            EXPECT_EQ(plain[k].drafted, 0);
          }
          EXPECT_GT(spec[0].drafted, 0);
          EXPECT_LE(spec[0].accepted, spec[0].drafted);
          ASSERT_EQ(spec[0].drafted_at.size(), (size_t)dk);
          for (int j = 0; j < dk; j++) {
            EXPECT_LE(spec[0].accepted_at[j], spec[0].drafted_at[j]);
            // a draft is checked only after the one before it was accepted (and the
            // completion did not stop at that token: once per completion at most)
            if (j > 0) { EXPECT_LE(spec[0].drafted_at[j], spec[0].accepted_at[j - 1]) << j; }
            if (j > 0) { EXPECT_GE(spec[0].drafted_at[j], spec[0].accepted_at[j - 1] - 1) << j; }
          }
          drafted[dk - 1] += spec[0].drafted;
          accepted[dk - 1] += spec[0].accepted;
        }
  for (int k = 1; k <= 3; k++) {
    // both branches ran: drafts accepted and drafts rolled back (a chained draft of this
    // barely trained model is never right: ConstantHeadAcceptsEveryDraft covers that branch)
    EXPECT_GT(accepted[k - 1], 0) << k;
    EXPECT_LT(accepted[k - 1], drafted[k - 1]) << k;
  }
}

// With the final norms' weights at zero every logit is 0, so the main model and the MTP
// module both always pick token 0: every draft, chained ones included, is accepted, and
// each main pass of k+1 tokens emits k+1 — the branch that keeps a whole round.
TEST(DecodeSpeculative, ConstantHeadAcceptsEveryDraft) {
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(5);
  int zeroed = 0;
  for (const ParamInfo& p : m.params.infos)
    if (p.name == "model.norm.weight" || p.name.find("shared_head.norm.weight") != std::string::npos) {
      std::fill_n(m.params.w(p.offset), p.numel, 0.0f);
      zeroed++;
    }
  ASSERT_EQ(zeroed, 2);  // the main model's final norm and the MTP module's
  const int n = 20;
  for (int k = 1; k <= 4; k++) {
    SamplingConfig s;
    s.temperature = 0;
    s.max_new_tokens = n;
    const Completion plain = sample(m, "<bos>7 + 8 = ", 1, s)[0];
    s.speculative = true;
    s.draft_tokens = k;
    const Completion spec = sample(m, "<bos>7 + 8 = ", 1, s)[0];
    EXPECT_EQ(spec.tokens, plain.tokens) << k;
    ASSERT_EQ(spec.tokens.size(), (size_t)n) << k;
    EXPECT_EQ(spec.tokens, std::vector<int32_t>(n, 0)) << k;
    // the first token comes from the prefill, the other n-1 from passes of k+1 each
    EXPECT_EQ(spec.drafted_at[0], (n - 1 + k) / (k + 1)) << k;
    for (int j = 0; j < k; j++) EXPECT_EQ(spec.accepted_at[j], spec.drafted_at[j]) << k << " " << j;
    EXPECT_TRUE(spec.truncated);
  }
}

TEST(DecodeSpeculative, NeedsGreedyAndAnMtpModule) {
  const RunConfig c = micro();
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(2);
  SamplingConfig s;
  s.speculative = true;
  s.max_new_tokens = 4;
  EXPECT_THROW(sample(m, "<bos>1 + 1 = ", 1, s), InvalidArgument) << "temperature 1";
  s.temperature = 0;
  for (int k : {0, SamplingConfig::kMaxDraftTokens + 1}) {
    SamplingConfig bad = s;
    bad.draft_tokens = k;
    EXPECT_THROW(sample(m, "<bos>1 + 1 = ", 1, bad), InvalidArgument) << "draft_tokens " << k;
  }
  RunConfig no_mtp = c;
  no_mtp.model.num_nextn_predict_layers = 0;
  Model plain(no_mtp.model, kernels::cpu_ops());
  plain.init_weights(2);
  EXPECT_THROW(sample(plain, "<bos>1 + 1 = ", 1, s), InvalidArgument);
}

TEST(DecodeBatch, RowsEqualPerPromptSamples) {
  Model& m = trained_micro();
  const std::vector<std::string> prompts = {"<bos>7 * 8 = ", "<bos>count: 10 11 12 13 14", "<bos>sort: 5 1 ->"};
  const int K = 2;
  for (AttnPath path : kPaths) {
    SamplingConfig s;
    s.temperature = 1.0;
    s.top_k = 40;
    s.max_new_tokens = 24;
    s.seed = 77;
    s.attention = path;
    std::vector<std::string> streamed(prompts.size() * K);
    const auto batch = sample_batch(m, prompts, K, s, [&](int row, const std::string& p) { streamed[row] += p; });
    ASSERT_EQ(batch.size(), prompts.size() * K);
    bool some_differ = false;
    for (size_t i = 0; i < prompts.size(); i++) {
      const auto one = sample_alone(m, prompts[i], i, K, s);
      for (int k = 0; k < K; k++) {
        const Completion& b = batch[i * K + k];
        EXPECT_EQ(b.tokens, one[k].tokens) << "prompt " << i << " sample " << k << " " << name(path);
        EXPECT_EQ(b.text, one[k].text);
        EXPECT_EQ(b.truncated, one[k].truncated);
        EXPECT_EQ(streamed[i * K + k], b.text);
      }
      some_differ = some_differ || one[0].tokens != one[1].tokens;
    }
    EXPECT_TRUE(some_differ) << "the samples of a prompt are not all the same draw";
  }
  SamplingConfig s;
  EXPECT_THROW(sample_batch(m, {}, 2, s), InvalidArgument);
  EXPECT_THROW(sample_batch(m, {"<bos>1", ""}, 2, s), InvalidArgument);
  EXPECT_THROW(sample_batch(m, {"<bos>1"}, 0, s), InvalidArgument);
}

// Completion::entropy (GRPO's entropy metric) is the policy's entropy at each sampled
// token: the sum of what the training forward gives over the completion's positions.
TEST(DecodeBatch, EntropyIsTheForwardsEntropyOverTheCompletion) {
  Model& m = trained_micro();
  SamplingConfig s;
  s.temperature = 1.3;  // the entropy is the policy's (temperature 1), not the sampler's
  s.max_new_tokens = 20;
  s.seed = 5;
  const std::string prompt = "<bos>7 * 8 = ";
  const auto out = sample(m, prompt, 64, s);
  // a completion that ended with <eos> (dropped from its tokens, so not in its entropy)
  int ended_by_eos = 0;
  for (const Completion& c : out) ended_by_eos += !c.truncated && (c.tokens.empty() || c.tokens.back() != Tokenizer::kEndAnswer);
  EXPECT_GE(ended_by_eos, 1) << "no sample ended with <eos>: the case is not exercised";
  Tokenizer tok;
  for (const Completion& c : out) {
    ASSERT_FALSE(c.tokens.empty());
    std::vector<int32_t> seq = tok.encode(prompt);
    const int Lp = (int)seq.size();
    seq.insert(seq.end(), c.tokens.begin(), c.tokens.end());
    Batch bt;  // position n predicts token n + 1; the completion's tokens are scored
    bt.B = 1;
    bt.T = (int)seq.size() - 1;
    for (int n = 0; n < bt.T; n++) {
      bt.inputs.push_back(seq[n]);
      bt.targets.push_back(seq[n + 1]);
      bt.mask.push_back(n + 1 >= Lp ? 1.0f : 0.0f);
    }
    std::vector<float> logp, ent;
    m.token_logprobs(bt, logp, &ent);
    double sum = 0;
    for (float e : ent) sum += e;
    EXPECT_GT(c.entropy, 0.0);
    EXPECT_NEAR(c.entropy, sum, 1e-4 * std::max(1.0, sum)) << c.text;
  }
}

// Prompts that share a long opening (GRPO's R1 template) prefill it once and decode each
// tail: the caches and next-token logits equal one prefill per prompt up to rounding, on
// both caches, and greedy completions equal those of each prompt alone.
TEST(DecodeBatch, SharedPromptPrefixGivesThePerPromptCaches) {
  Model& m = trained_micro();
  const std::string head = "<bos>Solve it step by step and give the answer in the tags. Be brief. Problem: ";
  const std::vector<std::string> prompts = {head + "7 * 8 = ", head + "12 + 9 = ", head + "40 - 13 ="};
  Tokenizer tok;
  std::vector<std::vector<int32_t>> ptoks;
  int Tmax = 0;
  for (const auto& p : prompts) {
    ptoks.push_back(tok.encode(p));
    Tmax = std::max(Tmax, (int)ptoks.back().size());
  }
  ASSERT_GE((int)tok.encode(head).size(), kMinSharedPrefix);
  const int K = 2, V = m.cfg.vocab_size;
  for (AttnPath path : kPaths) {
    Model::DecodeCache shared = m.new_cache(3 * K, Tmax + 4, path), alone = m.new_cache(3 * K, Tmax + 4, path);
    shared.T = alone.T = Tmax;
    std::vector<float> ls((size_t)3 * K * V), la, logits;
    prefill_prompts(m, shared, ptoks, K, ls);
    for (int i = 0; i < 3; i++) {
      m.prefill(alone, i * K, K, ptoks[i].data(), (int)ptoks[i].size(), logits);
      for (int k = 0; k < K; k++) la.insert(la.end(), logits.end() - V, logits.end());
    }
    EXPECT_EQ(shared.start, alone.start);
    EXPECT_LT(rel_diff(ls.data(), la.data(), la.size()), 1e-4) << name(path);
    for (size_t l = 0; l < alone.layers.size(); l++)
      EXPECT_LT(rel_diff(shared.layers[l].data(), alone.layers[l].data(), alone.layers[l].size()), 1e-4)
          << "layer " << l << " " << name(path);
    SamplingConfig s;
    s.temperature = 0;
    s.max_new_tokens = 24;
    s.attention = path;
    const auto batch = sample_batch(m, prompts, K, s);
    for (size_t i = 0; i < prompts.size(); i++) {
      const auto one = sample(m, prompts[i], 1, s);
      for (int k = 0; k < K; k++) EXPECT_EQ(batch[i * K + k].tokens, one[0].tokens) << "prompt " << i << " " << name(path);
    }
  }
  Model::DecodeCache small = m.new_cache(2, Tmax, AttnPath::Absorbed);
  small.T = Tmax;
  std::vector<float> ls((size_t)3 * K * V);
  EXPECT_THROW(prefill_prompts(m, small, ptoks, K, ls), InvalidArgument);  // 6 rows into 2
}

// Data-parallel generation (GRPO's): each model of a DataParallel decodes a share of the
// prompts on its own thread; every row must be what sample() gives for its prompt alone,
// with the prompt's global seed, and on_token must name rows by their global index.
TEST(DecodeBatch, ParallelSharesEqualPerPromptSamples) {
  Model& m = trained_micro();
  DataParallel dp(m, kernels::cpu_ops(), 2);
  const std::vector<Model*> models = dp.models(2);
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0], &m);
  EXPECT_EQ(models[1]->params.w(0), m.params.w(0)) << "a replica must read the master's weights";
  const std::vector<std::string> prompts = {"<bos>7 * 8 = ", "<bos>count: 10 11 12", "<bos>sort: 5 1 ->",
                                            "<bos>9 + 4 = ", "<bos>abc"};
  const int K = 2;
  SamplingConfig s;
  s.temperature = 1.0;
  s.top_k = 40;
  s.max_new_tokens = 20;
  s.seed = 91;
  std::mutex mu;
  std::vector<std::string> streamed(prompts.size() * K);
  const auto got = sample_batch_parallel(models, prompts, K, s, [&](int row, const std::string& p) {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_GE(row, 0);
    ASSERT_LT(row, (int)streamed.size());
    streamed[row] += p;
  });
  ASSERT_EQ(got.size(), prompts.size() * K);
  for (size_t i = 0; i < prompts.size(); i++) {
    const auto one = sample_alone(m, prompts[i], i, K, s);
    for (int k = 0; k < K; k++) {
      EXPECT_EQ(got[i * K + k].tokens, one[k].tokens) << "prompt " << i << " sample " << k;
      EXPECT_EQ(streamed[i * K + k], got[i * K + k].text) << "prompt " << i << " sample " << k;
    }
  }
  // one model, or more models than prompts: plain sample_batch
  const auto single = sample_batch_parallel({&m}, prompts, K, s);
  const auto batch = sample_batch(m, prompts, K, s);
  ASSERT_EQ(single.size(), batch.size());
  for (size_t r = 0; r < batch.size(); r++) EXPECT_EQ(single[r].tokens, batch[r].tokens) << r;
  const auto few = sample_batch_parallel(models, {prompts[0]}, K, s);
  ASSERT_EQ(few.size(), (size_t)K);
  for (int k = 0; k < K; k++) EXPECT_EQ(few[k].tokens, batch[k].tokens);
  // errors thrown on a worker thread arrive on the caller's
  EXPECT_THROW(sample_batch_parallel({}, prompts, K, s), InvalidArgument);
  EXPECT_THROW(sample_batch_parallel(models, {"<bos>1", ""}, K, s), InvalidArgument);
  EXPECT_THROW(sample_batch_parallel(models, prompts, 0, s), InvalidArgument);
}

TEST(DecodeBatch, RowsThatFinishEarlyLeaveTheCacheAndTheOthersAreUnchanged) {
  // once a quarter of the rows are done, sample_batch drops them from the cache; the rows
  // still decoding must produce what they would have produced alone
  // micro after 50 steps on compact arithmetic documents: it has learned the shape of a
  // completion, so its samples end (</answer>) after different numbers of tokens
  static const std::unique_ptr<Model> model = [] {
    RunConfig r = load_config("micro");
    r.data.source = "curriculum";
    r.curriculum.weight_arithmetic = 1.0, r.curriculum.weight_countdown = 0, r.curriculum.weight_linear = 0;
    r.curriculum.template_fraction = 0;
    r.curriculum.pretrain_problems = 2000;
    return pretrained(r, 50);
  }();
  Model& m = *model;
  std::vector<std::string> prompts;
  for (int i = 0; i < 8; i++)
    prompts.push_back("<bos>User: Compute " + std::to_string(11 * i + 13) + " + " + std::to_string(7 * i + 10) + ". Assistant: ");
  SamplingConfig s;
  s.temperature = 1.0;
  s.max_new_tokens = 48;
  s.seed = 5;
  const int K = 2;
  const auto batch = sample_batch(m, prompts, K, s);
  int early = 0;
  for (size_t i = 0; i < prompts.size(); i++) {
    const auto one = sample_alone(m, prompts[i], i, K, s);
    for (int k = 0; k < K; k++) {
      EXPECT_EQ(batch[i * K + k].tokens, one[k].tokens) << "prompt " << i << " sample " << k;
      early += !batch[i * K + k].truncated && (int)batch[i * K + k].tokens.size() < s.max_new_tokens - 1;
    }
  }
  EXPECT_GE(early, (int)prompts.size() * K / 4) << "too few rows stopped early to exercise the compaction";
}

TEST(DecodeBench, MicroGivesPositiveFigures) {
  RunConfig c = load_config("micro");
  c.curriculum.eval_problems = 3;
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(1);
  const DecodeBench r = bench_decode(m, c, 48, 2, 4, true);
  for (double v : {r.tokens_per_s_absorbed, r.tokens_per_s_naive, r.speedup, r.tokens_per_s_greedy,
                   r.tokens_per_s_speculative, r.mtp_speedup})
    EXPECT_GT(v, 0.0);
  EXPECT_EQ(r.kv_bytes_per_token_mla, m.kv_bytes_per_token(true));
  EXPECT_EQ(r.kv_bytes_per_token_mha, m.kv_bytes_per_token(false));
  EXPECT_GT(r.mtp_drafted, 0);
  EXPECT_GE(r.mtp_acceptance, 0.0);
  EXPECT_LE(r.mtp_acceptance, 1.0);
  EXPECT_TRUE(r.mtp_same_tokens);
  const std::string j = r.to_json();
  for (const char* key : {"tokens_per_s_absorbed", "tokens_per_s_naive", "speedup", "kv_bytes_per_token_mla",
                          "kv_bytes_per_token_mha", "context", "batch", "mtp_acceptance", "mtp_speedup"})
    EXPECT_NE(j.find(std::string("\"") + key + "\""), std::string::npos) << key;
  EXPECT_THROW(bench_decode(m, c, c.model.max_position_embeddings, 1, 4, false), InvalidArgument);
  // --context reaches the MTP prompts too: whole documents before the question, within it
  const int longer = c.model.max_position_embeddings - 4;
  const DecodeBench rc = bench_decode(m, c, longer, 1, 4, true);
  EXPECT_GT(rc.mtp_context, r.mtp_context);
  EXPECT_LE(rc.mtp_context, longer);
  EXPECT_TRUE(rc.mtp_same_tokens);
  EXPECT_NE(rc.to_json().find("\"mtp_context\""), std::string::npos);
  // chained drafts: counted per position, the output still plain greedy's
  const DecodeBench r3 = bench_decode(m, c, 48, 1, 8, true, 3);
  EXPECT_TRUE(r3.mtp_same_tokens);
  ASSERT_EQ(r3.mtp_drafted_at.size(), 3u);
  EXPECT_GT(r3.mtp_drafted_at[0], 0);
  int64_t total = 0;
  for (int j = 0; j < 3; j++) total += r3.mtp_drafted_at[j];
  EXPECT_EQ(total, r3.mtp_drafted);
  const nlohmann::json j3 = nlohmann::json::parse(r3.to_json());
  EXPECT_EQ(j3["draft_tokens"], 3);
  EXPECT_EQ(j3["mtp_acceptance_at"].size(), 3u);
  EXPECT_GT(j3["ms_main_pass_verify"].get<double>(), 0.0);
  EXPECT_THROW(bench_decode(m, c, 48, 1, 8, true, 0), InvalidArgument);
}

// `aha ARGS` → exit code and stdout + stderr
std::pair<int, std::string> aha_cli(const std::string& args) {
  FILE* p = popen((std::string(AHA_BIN) + " " + args + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(DecodeBench, CommandLinePrintsOneJsonObjectOrAClearError) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("aha_decode_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_EQ(aha_cli("init micro --out " + dir.string()).first, 0);
  auto [code, out] = aha_cli("bench decode " + dir.string() + " --context 24 --batch 2 --new-tokens 3 --mtp --json");
  ASSERT_EQ(code, 0) << out;
  const auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["context"], 24);
  EXPECT_EQ(j["batch"], 2);
  EXPECT_GT(j["tokens_per_s_absorbed"].get<double>(), 0);
  EXPECT_GT(j["tokens_per_s_naive"].get<double>(), 0);
  EXPECT_TRUE(j.contains("mtp_acceptance"));
  std::tie(code, out) = aha_cli("bench decode " + dir.string() + " --context 24 --new-tokens 3");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("tokens/s"), std::string::npos) << out;
  std::tie(code, out) = aha_cli("bench decode " + dir.string() + " --context 1000 --json");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("max_position_embeddings"), std::string::npos) << out;
  std::tie(code, out) = aha_cli("bench decode " + (dir / "missing").string() + " --json");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("missing"), std::string::npos) << out;
  // chained drafts: per-position acceptance in the text; a count out of range named
  std::tie(code, out) = aha_cli("bench decode " + dir.string() + " --context 24 --new-tokens 3 --mtp --draft 2");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("2 drafts per pass"), std::string::npos) << out;
  EXPECT_NE(out.find("by position"), std::string::npos) << out;
  std::tie(code, out) = aha_cli("bench decode " + dir.string() + " --mtp --draft 9 --json");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("--draft"), std::string::npos) << out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace aha
