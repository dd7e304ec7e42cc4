// Model-level behaviour: the two MLA paths, routing rules, auxiliary-loss-free
// balancing, checkpoints (round trip, malformed, exact resume) and that a small model
// really learns.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "engine/checkpoint.h"
#include "engine/data_parallel.h"
#include "engine/error.h"
#include "engine/layers.h"
#include "engine/model.h"
#include "engine/run.h"
#include "engine/safetensors.h"
#include "engine/tokenizer.h"

namespace aha {
namespace {
namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("aha_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
  static int& counter() { static int c = 0; return c; }
};

std::vector<int32_t> some_tokens(int n, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = (int32_t)r.below(264);
  return t;
}

TEST(Mla, NaiveAndAbsorbedPathsAgree) {
  for (int q_lora : {32, 0}) {
    RunConfig cfg = load_config("micro");
    cfg.model.q_lora_rank = q_lora;
    cfg.model.initializer_range = 0.1;
    Model m(cfg.model, kernels::cpu_ops());
    m.init_weights(3);
    const int B = 2, T = 37;
    auto tok = some_tokens(B * T, 5);
    std::vector<float> naive, absorbed;
    m.logits(tok.data(), B, T, AttnPath::Naive, naive);
    m.logits(tok.data(), B, T, AttnPath::Absorbed, absorbed);
    ASSERT_EQ(naive.size(), absorbed.size());
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < naive.size(); i++) {
      max_diff = std::max(max_diff, (double)std::abs(naive[i] - absorbed[i]));
      max_abs = std::max(max_abs, (double)std::abs(naive[i]));
    }
    EXPECT_LT(max_diff, 1e-4 * std::max(1.0, max_abs)) << "q_lora_rank " << q_lora;
    EXPECT_GT(max_abs, 0.1);  // the comparison is not between two zero tensors
    // the absorbed cache is kv_lora_rank + qk_rope_head_dim values per token per layer
    for (int l = 0; l < cfg.model.num_hidden_layers; l++)
      EXPECT_EQ(m.absorbed_cache(l).size(),
                (size_t)B * T * (cfg.model.kv_lora_rank + cfg.model.qk_rope_head_dim));
  }
}

// ---- routing --------------------------------------------------------------------------

ModelConfig router_config() {
  ModelConfig c;
  c.n_routed_experts = 8;
  c.num_experts_per_tok = 3;
  c.n_group = 4;
  c.topk_group = 2;
  c.routed_scaling_factor = 2.5;
  return c;
}

RouterActs random_router(const ModelConfig& c, int N, uint64_t seed) {
  RouterActs r;
  Rng rng(seed);
  r.logits.resize((size_t)N * c.n_routed_experts);
  for (auto& l : r.logits) l = (float)rng.normal();
  return r;
}

TEST(Routing, GroupLimitIsRespected) {
  ModelConfig c = router_config();
  const int N = 200, E = 8, K = 3, per = E / c.n_group;
  RouterActs r = random_router(c, N, 1);
  std::vector<float> bias(E, 0.0f);
  route_forward(c, r, bias.data(), 1, N);
  for (int n = 0; n < N; n++) {
    std::set<int> groups;
    for (int k = 0; k < K; k++) groups.insert(r.topk[n * K + k] / per);
    EXPECT_LE((int)groups.size(), c.topk_group) << "token " << n;
    // the chosen groups are those with the largest top-2 sums
    std::vector<std::pair<float, int>> gs;
    for (int g = 0; g < c.n_group; g++) {
      std::vector<float> v(r.scores.begin() + n * E + g * per, r.scores.begin() + n * E + (g + 1) * per);
      std::sort(v.rbegin(), v.rend());
      gs.push_back({v[0] + v[1], g});
    }
    std::sort(gs.rbegin(), gs.rend());
    for (int g : groups) EXPECT_TRUE(g == gs[0].second || g == gs[1].second) << "token " << n;
  }
}

TEST(Routing, BiasChangesSelectionButNotGateValues) {
  ModelConfig c = router_config();
  c.n_group = 1;
  c.topk_group = 1;
  const int N = 50, E = 8, K = 3;
  RouterActs r = random_router(c, N, 2);
  std::vector<float> bias(E, 0.0f);
  bias[6] = 10.0f;  // expert 6 now wins every selection
  route_forward(c, r, bias.data(), 1, N);
  for (int n = 0; n < N; n++) {
    bool has6 = false;
    double sum = 0;
    for (int k = 0; k < K; k++) { has6 |= r.topk[n * K + k] == 6; sum += r.scores[n * E + r.topk[n * K + k]]; }
    EXPECT_TRUE(has6);
    for (int k = 0; k < K; k++) {
      const double want = r.scores[n * E + r.topk[n * K + k]] / sum * c.routed_scaling_factor;
      EXPECT_NEAR(r.gate[n * K + k], want, 1e-6) << "gate values come from the unbiased scores";
    }
  }
}

TEST(Routing, ExpertCountsSumToTokensTimesK) {
  RunConfig cfg = load_config("micro");
  Model m(cfg.model, kernels::cpu_ops());
  m.init_weights(1);
  Batch b;
  b.B = 3; b.T = 20;
  b.inputs = some_tokens(60, 1); b.targets = some_tokens(60, 2); b.mask.assign(60, 1.0f);
  m.forward_backward(b);
  auto loads = m.expert_load();
  ASSERT_EQ(loads.size(), 2u);  // the MoE block and the MTP block
  for (const auto& l : loads) {
    int64_t total = 0;
    for (int64_t v : l) total += v;
    EXPECT_EQ(total, 60 * cfg.model.num_experts_per_tok);
  }
}

TEST(Routing, AuxLossFreeBiasMovesAgainstTheLoad) {
  RunConfig cfg = load_config("micro");
  Model m(cfg.model, kernels::cpu_ops());
  m.init_weights(1);
  Batch b;
  b.B = 2; b.T = 30;
  b.inputs = some_tokens(60, 3); b.targets = some_tokens(60, 4); b.mask.assign(60, 1.0f);
  m.forward_backward(b);
  const auto loads = m.expert_load()[0];
  const ParamInfo* bias = m.params.find("model.layers.1.mlp.gate.e_score_correction_bias");
  ASSERT_NE(bias, nullptr);
  std::vector<float> before(m.params.w(bias->offset), m.params.w(bias->offset) + bias->numel);
  m.update_router_bias();
  double mean = 0;
  for (auto v : loads) mean += (double)v / loads.size();
  int moved = 0;
  for (size_t e = 0; e < loads.size(); e++) {
    const float delta = m.params.w(bias->offset)[e] - before[e];
    const float g = (float)cfg.model.bias_update_speed;
    if (loads[e] > mean) { EXPECT_FLOAT_EQ(delta, -g) << "overloaded expert " << e; }
    if (loads[e] < mean) { EXPECT_FLOAT_EQ(delta, g) << "underloaded expert " << e; }
    moved += delta != 0;
  }
  EXPECT_GT(moved, 0);
  for (const auto& l : m.expert_load()) for (auto v : l) EXPECT_EQ(v, 0);  // loads reset
}

// ---- checkpoints -------------------------------------------------------------------

TEST(Checkpoint, RoundTripIsExactAndUsesHfNames) {
  TempDir tmp;
  RunConfig cfg = load_config("micro");
  Model a(cfg.model, kernels::cpu_ops());
  a.init_weights(9);
  save_checkpoint((tmp.path / "ck").string(), cfg, a);
  RunConfig back = read_checkpoint_config((tmp.path / "ck").string());
  EXPECT_EQ(to_toml(back), to_toml(cfg));
  Model b(back.model, kernels::cpu_ops());
  load_weights((tmp.path / "ck").string(), b);
  EXPECT_EQ(a.params.weights, b.params.weights);
  SafetensorsFile f = SafetensorsFile::read((tmp.path / "ck" / "model.safetensors").string());
  for (const char* n : {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
                        "model.layers.0.self_attn.q_a_proj.weight", "model.layers.0.self_attn.q_a_layernorm.weight",
                        "model.layers.0.self_attn.q_b_proj.weight", "model.layers.0.self_attn.kv_a_proj_with_mqa.weight",
                        "model.layers.0.self_attn.kv_a_layernorm.weight", "model.layers.0.self_attn.kv_b_proj.weight",
                        "model.layers.0.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight",
                        "model.layers.1.mlp.gate.weight", "model.layers.1.mlp.gate.e_score_correction_bias",
                        "model.layers.1.mlp.experts.3.down_proj.weight", "model.layers.1.mlp.shared_experts.up_proj.weight",
                        "model.layers.2.enorm.weight", "model.layers.2.hnorm.weight", "model.layers.2.eh_proj.weight",
                        "model.layers.2.shared_head.norm.weight", "model.norm.weight", "lm_head.weight"})
    EXPECT_TRUE(f.has(n)) << n;
  EXPECT_EQ(f.get("model.layers.2.eh_proj.weight").shape, (std::vector<int64_t>{64, 128}));
  std::ifstream cj(tmp.path / "ck" / "config.json");
  std::string text((std::istreambuf_iterator<char>(cj)), {});
  for (const char* k : {"\"model_type\": \"deepseek_v3\"", "\"kv_lora_rank\": 32", "\"num_nextn_predict_layers\": 1",
                        "\"first_k_dense_replace\": 1", "\"n_group\": 2", "\"scoring_func\": \"sigmoid\""})
    EXPECT_NE(text.find(k), std::string::npos) << k;
}

TEST(Checkpoint, MissingAndMisshapenTensorsAreNamed) {
  TempDir tmp;
  RunConfig cfg = load_config("micro");
  Model a(cfg.model, kernels::cpu_ops());
  a.init_weights(9);
  const std::string dir = (tmp.path / "ck").string();
  save_checkpoint(dir, cfg, a);
  // rewrite model.safetensors without one tensor and with one wrong shape
  std::vector<TensorToWrite> ts;
  for (const ParamInfo& p : a.params.infos) {
    if (p.name == "lm_head.weight") continue;
    auto shape = p.shape;
    if (p.name == "model.norm.weight") shape = {8, 8};
    ts.push_back({p.name, DType::F32, shape, a.params.w(p.offset)});
  }
  write_safetensors(dir + "/model.safetensors", ts);
  Model b(cfg.model, kernels::cpu_ops());
  try {
    load_weights(dir, b);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("lm_head.weight"), std::string::npos) << e.what();
  }
  ts.push_back({"lm_head.weight", DType::F32, {264, 64}, a.params.w(a.params.find("lm_head.weight")->offset)});
  write_safetensors(dir + "/model.safetensors", ts);
  try {
    load_weights(dir, b);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("model.norm.weight"), std::string::npos) << e.what();
  }
}

std::vector<float> train_steps(const RunConfig& cfg, int n, const std::string& save_to,
                               const std::string& resume_from) {
  Model m(cfg.model, kernels::cpu_ops());
  m.init_weights(cfg.train.seed);
  PretrainStage st(cfg, m, kernels::cpu_ops());
  if (!resume_from.empty()) st.restore(resume_from);
  for (int i = 0; i < n; i++) st.step();
  if (!save_to.empty()) st.save(save_to);
  return m.params.weights;
}

TEST(Checkpoint, ResumeIsBitIdentical) {
  TempDir tmp;
  RunConfig cfg = load_config("micro");
  cfg.train.steps = 8;
  const auto straight = train_steps(cfg, 8, "", "");
  const std::string mid = (tmp.path / "mid").string();
  train_steps(cfg, 4, mid, "");
  const auto resumed = train_steps(cfg, 4, "", mid);
  ASSERT_EQ(straight.size(), resumed.size());
  EXPECT_TRUE(straight == resumed) << "weights after 8 steps differ from 4 + resume + 4";
}

// ---- learning ---------------------------------------------------------------------------

TEST(Learning, MicroModelLearnsTheSyntheticCorpus) {
  RunConfig cfg = load_config("micro");  // 60 steps of 4×64 tokens
  aha::Run run(cfg, "");
  run.run_blocking();
  ASSERT_EQ(run.status(), RunStatus::Finished);
  double first = -1, eval = -1;
  while (auto e = run.events().pop(std::chrono::milliseconds(0))) {
    if (e->kind == Event::Kind::Step && first < 0) first = e->metrics.at("lm_loss");
    if (e->kind == Event::Kind::Eval) eval = e->metrics.at("eval_loss");
  }
  EXPECT_GT(first, 5.0);   // starts near ln(264) = 5.58 nats per byte
  EXPECT_LT(eval, 2.6);    // held-out loss after 60 steps (about 2.1 when written)
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {

TEST(Training, SameSeedSameThreadsGivesIdenticalWeights) {
  RunConfig cfg = load_config("micro");
  EXPECT_TRUE(train_steps(cfg, 3, "", "") == train_steps(cfg, 3, "", ""));
  cfg.train.seed = 99;
  EXPECT_FALSE(train_steps(cfg, 3, "", "") == train_steps(load_config("micro"), 3, "", ""));
}

TEST(Training, GradientAccumulationMatchesOneLargeBatch) {
  // two micro-batches of 2 sequences, scaled by 1/2, give the gradient of one batch of 4
  RunConfig cfg = load_config("micro");
  Model m(cfg.model, kernels::cpu_ops());
  m.init_weights(4);
  Batch big, lo, hi;
  big.B = 4; big.T = 32;
  big.inputs = some_tokens(128, 7); big.targets = some_tokens(128, 8); big.mask.assign(128, 1.0f);
  for (Batch* h : {&lo, &hi}) {
    const size_t off = h == &lo ? 0 : 64;
    h->B = 2; h->T = 32;
    h->inputs.assign(big.inputs.begin() + off, big.inputs.begin() + off + 64);
    h->targets.assign(big.targets.begin() + off, big.targets.begin() + off + 64);
    h->mask.assign(64, 1.0f);
  }
  m.zero_grad();
  m.forward_backward(big);
  const std::vector<float> g_big = m.params.grads;
  m.zero_grad();
  m.forward_backward(lo, 0.5f);
  m.forward_backward(hi, 0.5f);
  double num = 0, den = 0;
  for (size_t i = 0; i < g_big.size(); i++) {
    num += (g_big[i] - m.params.grads[i]) * (double)(g_big[i] - m.params.grads[i]);
    den += (double)g_big[i] * g_big[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5);
  EXPECT_GT(den, 0.0);
}


TEST(DataParallel, ShardsGiveTheWholeBatchLossGradientAndLoads) {
  // Three replicas on 5 rows (shards of 1, 2 and 2 rows) with uneven masks (an SFT
  // batch), MTP and a strong balance loss: the summed shards must reproduce one pass
  // over the whole batch — loss parts, gradients and the expert loads the bias update uses.
  RunConfig cfg = load_config("micro");
  cfg.model.aux_loss_alpha = 0.05;
  Model whole(cfg.model, kernels::cpu_ops()), sharded(cfg.model, kernels::cpu_ops());
  whole.init_weights(4);
  sharded.params.weights = whole.params.weights;
  Batch b;
  b.B = 5; b.T = 24;
  b.inputs = some_tokens(b.B * b.T, 7); b.targets = some_tokens(b.B * b.T, 8);
  b.mask.assign(b.B * b.T, 0.0f);
  for (int r = 0; r < b.B; r++)  // row r scores its last 4 + 4·r positions
    for (int t = b.T - std::min(b.T, 4 + 4 * r); t < b.T; t++) b.mask[(size_t)r * b.T + t] = 1.0f;
  DataParallel dp(sharded, kernels::cpu_ops(), 3);
  ASSERT_EQ(dp.replicas_for(b.B), 3);
  ASSERT_EQ(dp.replicas_for(2), 2);
  whole.zero_grad();
  sharded.zero_grad();
  const LossParts a = whole.forward_backward(b, 0.5f);
  const LossParts c = dp.forward_backward(b, 0.5f);
  EXPECT_NEAR(c.total, a.total, 1e-5 * a.total);
  EXPECT_NEAR(c.lm, a.lm, 1e-5 * a.lm);
  ASSERT_EQ(c.mtp.size(), 1u);
  EXPECT_NEAR(c.mtp[0], a.mtp[0], 1e-5 * a.mtp[0]);
  EXPECT_NEAR(c.balance, a.balance, 1e-5 * a.balance);
  EXPECT_GT(a.balance, 0.0);
  EXPECT_EQ(c.scored_tokens, a.scored_tokens);
  double num = 0, den = 0;
  for (size_t i = 0; i < whole.params.grads.size(); i++) {
    const double e = (double)whole.params.grads[i] - sharded.params.grads[i];
    num += e * e;
    den += (double)whole.params.grads[i] * whole.params.grads[i];
  }
  EXPECT_GT(den, 0.0);
  EXPECT_LT(std::sqrt(num / den), 1e-5);
  EXPECT_EQ(sharded.expert_load(), whole.expert_load());
  // and the same again gives bit-identical gradients (fixed shards, fixed summation order)
  const std::vector<float> first = sharded.params.grads;
  sharded.zero_grad();
  sharded.reset_expert_load();
  dp.forward_backward(b, 0.5f);
  EXPECT_TRUE(first == sharded.params.grads);
  // zero_grads (a step's first micro-batch): every model, the master on its own worker
  // thread, starts from zero whatever its gradients held
  std::fill(sharded.params.grads.begin(), sharded.params.grads.end(), 7.0f);
  sharded.reset_expert_load();
  dp.forward_backward(b, 0.5f, /*zero_grads=*/true);
  EXPECT_TRUE(first == sharded.params.grads);
  // without it the pass adds to them (gradient accumulation): twice the gradient now
  sharded.reset_expert_load();
  dp.forward_backward(b, 0.5f);
  double e2 = 0, g2 = 0;  // relative to the gradient's norm, as above
  for (size_t i = 0; i < first.size(); i++) {
    const double e = (double)sharded.params.grads[i] - 2.0 * first[i];
    e2 += e * e;
    g2 += 4.0 * first[i] * first[i];
  }
  EXPECT_LT(std::sqrt(e2 / g2), 1e-6);
}
}  // namespace
}  // namespace aha

namespace aha {
namespace {

TEST(Checkpoint, TrailingSlashAndReplacingKeepOneCompleteCopy) {
  TempDir tmp;
  RunConfig cfg = load_config("micro");
  Model a(cfg.model, kernels::cpu_ops());
  a.init_weights(1);
  const std::string dir = (tmp.path / "ck").string() + "/";
  save_checkpoint(dir, cfg, a);
  a.init_weights(2);
  save_checkpoint(dir, cfg, a);  // replaces the first
  Model b(cfg.model, kernels::cpu_ops());
  load_weights(dir, b);
  EXPECT_EQ(a.params.weights, b.params.weights);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp.path)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"ck"}) << "no .partial or .old left behind";
  // a save that died between its renames left only ck.old: the next save of ck puts it
  // back first, then replaces it, and leaves one complete copy
  fs::rename(tmp.path / "ck", tmp.path / "ck.old");
  a.init_weights(3);
  save_checkpoint(dir, cfg, a);
  load_weights(dir, b);
  EXPECT_EQ(a.params.weights, b.params.weights);
  names.clear();
  for (const auto& e : fs::directory_iterator(tmp.path)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"ck"});
}

TEST(Checkpoint, MalformedTokenizerJsonIsAFormatError) {
  for (const char* bad : {"{\"type\": 5}", "{\"type\": \"aha-byte\", \"specials\": 3}", "[]", "not json"}) {
    EXPECT_THROW(Tokenizer::check_json(bad, "tokenizer.json"), FormatError) << bad;
  }
  EXPECT_NO_THROW(Tokenizer::check_json(Tokenizer().to_json(), "tokenizer.json"));
}

TEST(Batch, NegativeTargetMustBeMasked) {
  RunConfig cfg = load_config("micro");
  Model m(cfg.model, kernels::cpu_ops());
  m.init_weights(1);
  Batch b;
  b.B = 1; b.T = 4;
  b.inputs = {1, 2, 3, 4}; b.targets = {2, 3, -1, 5}; b.mask = {1, 1, 1, 1};
  EXPECT_THROW(m.forward_loss(b), InvalidArgument);
  b.mask[2] = 0.0f;
  EXPECT_NO_THROW(m.forward_loss(b));
}

TEST(RunApi, StartsOnceAndAStopBeforeStartDoesNotCancel) {
  RunConfig cfg = load_config("micro");
  cfg.train.steps = 2;
  cfg.train.warmup_steps = 1;
  aha::Run run(cfg, "");
  run.stop();
  run.run_blocking();
  EXPECT_EQ(run.status(), RunStatus::Finished);
  EXPECT_THROW(run.run_blocking(), InvalidArgument);
  EXPECT_THROW(run.start(), InvalidArgument);
}

TEST(RunApi, PauseResumeAndStopFromAnotherThread) {
  TempDir tmp;
  RunConfig cfg = load_config("micro");
  cfg.train.steps = 1000;
  aha::Run run(cfg, tmp.path.string());
  run.start();
  bool paused = false, resumed = false, stopped = false;
  int steps_after_pause = 0;
  while (auto e = run.events().pop(std::chrono::seconds(30))) {
    if (e->kind == Event::Kind::Step && e->step == 3) run.pause();
    if (e->kind == Event::Kind::Paused) { paused = true; EXPECT_EQ(run.status(), RunStatus::Paused); run.resume(); }
    if (e->kind == Event::Kind::Resumed) resumed = true;
    if (e->kind == Event::Kind::Step && resumed && ++steps_after_pause == 2) run.stop();
    if (e->kind == Event::Kind::Stopped) { stopped = true; break; }
  }
  run.wait();
  EXPECT_TRUE(paused && resumed && stopped);
  EXPECT_EQ(run.status(), RunStatus::Stopped);
  EXPECT_TRUE(fs::exists(fs::path(run.last_checkpoint()) / "optimizer.safetensors")) << "stop saves a checkpoint";
}

}  // namespace
}  // namespace aha
