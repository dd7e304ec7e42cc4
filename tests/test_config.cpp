// Config: presets, TOML round trip, and one test per rejection rule. Each bad
// case checks that the message names the key and says which rule it broke.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/config.h"
#include "engine/optim.h"
#include "engine/error.h"

namespace fs = std::filesystem;
using aha::ConfigError;
using aha::RunConfig;

namespace {

// The ConfigError message that parse_config throws for `toml` (origin "t.toml").
std::string error_of(const std::string& toml) {
  try {
    aha::parse_config(toml, "t.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted a bad config:\n" << toml;
  return "";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

// Every field, so a key forgotten by to_toml or the parser shows up here.
void expect_same(const RunConfig& a, const RunConfig& b) {
  EXPECT_EQ(a.name, b.name);
  const auto &m = a.model, &n = b.model;
  EXPECT_EQ(m.vocab_size, n.vocab_size);
  EXPECT_EQ(m.hidden_size, n.hidden_size);
  EXPECT_EQ(m.intermediate_size, n.intermediate_size);
  EXPECT_EQ(m.moe_intermediate_size, n.moe_intermediate_size);
  EXPECT_EQ(m.num_hidden_layers, n.num_hidden_layers);
  EXPECT_EQ(m.first_k_dense_replace, n.first_k_dense_replace);
  EXPECT_EQ(m.num_attention_heads, n.num_attention_heads);
  EXPECT_EQ(m.n_routed_experts, n.n_routed_experts);
  EXPECT_EQ(m.n_shared_experts, n.n_shared_experts);
  EXPECT_EQ(m.num_experts_per_tok, n.num_experts_per_tok);
  EXPECT_EQ(m.n_group, n.n_group);
  EXPECT_EQ(m.topk_group, n.topk_group);
  EXPECT_EQ(m.routed_scaling_factor, n.routed_scaling_factor);
  EXPECT_EQ(m.scoring_func, n.scoring_func);
  EXPECT_EQ(m.norm_topk_prob, n.norm_topk_prob);
  EXPECT_EQ(m.q_lora_rank, n.q_lora_rank);
  EXPECT_EQ(m.kv_lora_rank, n.kv_lora_rank);
  EXPECT_EQ(m.qk_nope_head_dim, n.qk_nope_head_dim);
  EXPECT_EQ(m.qk_rope_head_dim, n.qk_rope_head_dim);
  EXPECT_EQ(m.v_head_dim, n.v_head_dim);
  EXPECT_EQ(m.num_nextn_predict_layers, n.num_nextn_predict_layers);
  EXPECT_EQ(m.rope_theta, n.rope_theta);
  EXPECT_EQ(m.rms_norm_eps, n.rms_norm_eps);
  EXPECT_EQ(m.max_position_embeddings, n.max_position_embeddings);
  EXPECT_EQ(m.initializer_range, n.initializer_range);
  EXPECT_EQ(m.aux_loss_alpha, n.aux_loss_alpha);
  EXPECT_EQ(m.bias_update_speed, n.bias_update_speed);
  EXPECT_EQ(m.mtp_loss_weight, n.mtp_loss_weight);
  const auto &t = a.train, &u = b.train;
  EXPECT_EQ(t.seed, u.seed);
  EXPECT_EQ(t.batch_size, u.batch_size);
  EXPECT_EQ(t.seq_len, u.seq_len);
  EXPECT_EQ(t.grad_accum, u.grad_accum);
  EXPECT_EQ(t.steps, u.steps);
  EXPECT_EQ(t.lr, u.lr);
  EXPECT_EQ(t.min_lr, u.min_lr);
  EXPECT_EQ(t.warmup_steps, u.warmup_steps);
  EXPECT_EQ(t.lr_schedule, u.lr_schedule);
  EXPECT_EQ(t.decay_steps, u.decay_steps);
  EXPECT_EQ(t.beta1, u.beta1);
  EXPECT_EQ(t.beta2, u.beta2);
  EXPECT_EQ(t.adam_eps, u.adam_eps);
  EXPECT_EQ(t.weight_decay, u.weight_decay);
  EXPECT_EQ(t.grad_clip, u.grad_clip);
  EXPECT_EQ(t.threads, u.threads);
  EXPECT_EQ(t.log_every, u.log_every);
  EXPECT_EQ(t.checkpoint_every, u.checkpoint_every);
  EXPECT_EQ(a.data.source, b.data.source);
  EXPECT_EQ(a.data.synthetic_bytes, b.data.synthetic_bytes);
  EXPECT_EQ(a.data.eval_fraction, b.data.eval_fraction);
}

// A fresh empty directory, removed afterwards.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("aha_test_config_" + tag + "_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

}  // namespace

// ---- presets ---------------------------------------------------------------

TEST(ConfigPresets, NamesIncludeTinyAndMicro) {
  auto names = aha::preset_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "tiny"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "micro"), names.end());
}

TEST(ConfigPresets, TinyLoadsWithTheDocumentedValues) {
  RunConfig c = aha::load_config("tiny");
  EXPECT_NO_THROW(aha::validate(c));
  EXPECT_EQ(c.name, "tiny");
  EXPECT_EQ(c.origin, "tiny");
  const auto& m = c.model;
  EXPECT_EQ(m.vocab_size, 264);
  EXPECT_EQ(m.hidden_size, 256);
  EXPECT_EQ(m.intermediate_size, 768);
  EXPECT_EQ(m.moe_intermediate_size, 64);
  EXPECT_EQ(m.num_hidden_layers, 6);
  EXPECT_EQ(m.first_k_dense_replace, 1);
  EXPECT_EQ(m.num_attention_heads, 4);
  EXPECT_EQ(m.n_routed_experts, 8);
  EXPECT_EQ(m.n_shared_experts, 1);
  EXPECT_EQ(m.num_experts_per_tok, 2);
  EXPECT_EQ(m.n_group, 2);
  EXPECT_EQ(m.topk_group, 1);
  EXPECT_EQ(m.routed_scaling_factor, 1.0);
  EXPECT_EQ(m.scoring_func, "sigmoid");
  EXPECT_TRUE(m.norm_topk_prob);
  EXPECT_EQ(m.q_lora_rank, 96);
  EXPECT_EQ(m.kv_lora_rank, 64);
  EXPECT_EQ(m.qk_nope_head_dim, 32);
  EXPECT_EQ(m.qk_rope_head_dim, 16);
  EXPECT_EQ(m.v_head_dim, 32);
  EXPECT_EQ(m.num_nextn_predict_layers, 1);
  EXPECT_EQ(m.rope_theta, 10000.0);
  EXPECT_EQ(m.max_position_embeddings, 1024);
  EXPECT_EQ(m.aux_loss_alpha, 0.0001);
  EXPECT_EQ(m.bias_update_speed, 0.001);
  EXPECT_EQ(m.mtp_loss_weight, 0.3);
  EXPECT_EQ(m.initializer_range, 0.02);
  const auto& t = c.train;
  EXPECT_EQ(t.seed, 1234u);
  EXPECT_EQ(t.batch_size, 8);
  EXPECT_EQ(t.seq_len, 256);
  EXPECT_EQ(t.steps, 300);
  EXPECT_EQ(t.lr, 0.003);
  EXPECT_EQ(t.min_lr, 0.0003);
  EXPECT_EQ(t.warmup_steps, 20);
  EXPECT_EQ(t.lr_schedule, "cosine");
  EXPECT_EQ(t.weight_decay, 0.1);
  EXPECT_EQ(t.grad_clip, 1.0);
  EXPECT_EQ(t.log_every, 10);
  EXPECT_EQ(c.data.source, "synthetic");
  EXPECT_EQ(c.data.synthetic_bytes, 2000000u);
}

TEST(ConfigPresets, MicroLoadsAndIsSmall) {
  RunConfig c = aha::load_config("micro");
  EXPECT_NO_THROW(aha::validate(c));
  EXPECT_EQ(c.name, "micro");
  const auto& m = c.model;
  EXPECT_EQ(m.hidden_size, 64);
  EXPECT_EQ(m.num_hidden_layers, 2);
  EXPECT_EQ(m.first_k_dense_replace, 1);
  EXPECT_EQ(m.num_attention_heads, 2);
  EXPECT_EQ(m.n_routed_experts, 4);
  EXPECT_EQ(m.n_shared_experts, 1);
  EXPECT_EQ(m.num_experts_per_tok, 2);
  EXPECT_EQ(m.n_group, 2);
  EXPECT_EQ(m.topk_group, 1);
  EXPECT_EQ(m.q_lora_rank, 32);
  EXPECT_EQ(m.kv_lora_rank, 32);
  EXPECT_EQ(m.qk_nope_head_dim, 16);
  EXPECT_EQ(m.qk_rope_head_dim, 8);
  EXPECT_EQ(m.v_head_dim, 16);
  EXPECT_EQ(m.intermediate_size, 128);
  EXPECT_EQ(m.moe_intermediate_size, 32);
  EXPECT_EQ(m.num_nextn_predict_layers, 1);
  EXPECT_EQ(c.train.batch_size, 4);
  EXPECT_EQ(c.train.seq_len, 64);
  EXPECT_EQ(c.train.steps, 60);
  EXPECT_EQ(c.train.lr, 0.003);
  EXPECT_EQ(c.train.warmup_steps, 5);
  EXPECT_EQ(c.data.synthetic_bytes, 200000u);
}

TEST(ConfigPresets, PresetFilesParseAsFiles) {
  // The same files, loaded by path (as a user copying one would).
  for (const char* name : {"tiny", "micro"}) {
    fs::path p = fs::path(AHA_SOURCE_DIR) / "resources/presets" / (std::string(name) + ".toml");
    RunConfig from_file = aha::load_config(p.string());
    expect_same(from_file, aha::load_config(name));
    EXPECT_EQ(from_file.origin, p.string());
  }
}

// ---- round trip and parsing ------------------------------------------------

TEST(ConfigRoundTrip, PresetsRoundTripExactly) {
  for (const auto& name : aha::preset_names()) {
    RunConfig a = aha::load_config(name);
    RunConfig b = aha::parse_config(aha::to_toml(a), "round-trip");
    expect_same(a, b);
    EXPECT_EQ(aha::to_toml(a), aha::to_toml(b));
  }
}

TEST(ConfigRoundTrip, AwkwardValuesRoundTripExactly) {
  RunConfig a = aha::load_config("tiny");
  a.name = "quote \" ünïcode";
  a.model.rms_norm_eps = 1e-6;
  a.model.initializer_range = 0.1 + 0.2;  // 0.30000000000000004: needs 17 digits
  a.model.rope_theta = 5e5;
  a.model.routed_scaling_factor = 2.5;
  a.model.q_lora_rank = 0;
  a.model.norm_topk_prob = false;
  a.model.scoring_func = "softmax";
  a.train.lr = 1.0 / 3.0;
  a.train.min_lr = 0;
  a.train.seed = 9007199254740993ull;  // not representable as a double
  a.train.lr_schedule = "constant";
  a.data.source = "corpus\\some\tfile \"x\".txt";
  a.data.eval_fraction = 0.5;
  ASSERT_NO_THROW(aha::validate(a));
  RunConfig b = aha::parse_config(aha::to_toml(a), "round-trip");
  expect_same(a, b);
}

TEST(ConfigRoundTrip, ToTomlWritesEveryKey) {
  std::string text = aha::to_toml(RunConfig{});
  for (const char* key : {"name =", "[model]", "vocab_size =", "rms_norm_eps =", "mtp_loss_weight =", "[train]",
                          "grad_accum =", "beta2 =", "adam_eps =", "checkpoint_every =", "[data]", "eval_fraction ="})
    EXPECT_CONTAINS(text, key);
}

TEST(ConfigParse, PartialConfigKeepsDefaults) {
  RunConfig c = aha::parse_config("name = \"p\"\n[train]\nsteps = 50\n", "p.toml");
  RunConfig d;
  EXPECT_EQ(c.name, "p");
  EXPECT_EQ(c.origin, "p.toml");
  EXPECT_EQ(c.train.steps, 50);
  EXPECT_EQ(c.model.hidden_size, d.model.hidden_size);
  EXPECT_EQ(c.train.lr, d.train.lr);
  EXPECT_EQ(c.data.source, d.data.source);
}

TEST(ConfigParse, IntegerAcceptedForFloat) {
  RunConfig c = aha::parse_config("[train]\nlr = 1\nmin_lr = 0\n", "t.toml");
  EXPECT_EQ(c.train.lr, 1.0);
  EXPECT_EQ(c.train.min_lr, 0.0);
}

TEST(ConfigParse, DenseModelSkipsMoeChecks) {
  // n_routed_experts = 0: the routing keys are unused, so nonsense there is fine.
  RunConfig c = aha::parse_config("[model]\nn_routed_experts = 0\nnum_experts_per_tok = 0\nn_group = 0\n", "t.toml");
  EXPECT_FALSE(c.model.is_moe_layer(3));
}

// ---- rejected configs: one rule each ---------------------------------------

TEST(ConfigReject, UnknownKeySuggestsClosest) {
  std::string msg = error_of("[model]\nhiden_size = 64\n");
  EXPECT_CONTAINS(msg, "t.toml: model.hiden_size: unknown key");
  EXPECT_CONTAINS(msg, "did you mean model.hidden_size?");
}

TEST(ConfigReject, UnknownKeyWithoutCloseMatch) {
  std::string msg = error_of("[train]\nfrobnicate = 1\n");
  EXPECT_CONTAINS(msg, "train.frobnicate: unknown key");
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
}

TEST(ConfigReject, KeyInWrongTablePointsToTheRightOne) {
  std::string msg = error_of("[model]\nlr = 0.1\n");
  EXPECT_CONTAINS(msg, "model.lr: unknown key");
  EXPECT_CONTAINS(msg, "did you mean train.lr?");
}

TEST(ConfigReject, UnknownTopLevelTable) {
  std::string msg = error_of("[modle]\nhidden_size = 64\n");
  EXPECT_CONTAINS(msg, "t.toml: modle: unknown key");
  EXPECT_CONTAINS(msg, "did you mean model?");
}

TEST(ConfigReject, SectionMustBeATable) {
  EXPECT_CONTAINS(error_of("model = 3\n"), "model: expected a table, got integer");
}

TEST(ConfigReject, WrongTypeStringForFloat) {
  EXPECT_CONTAINS(error_of("[train]\nlr = \"0.01\"\n"), "t.toml: train.lr: expected a float, got string");
}

TEST(ConfigReject, FloatNotAcceptedForInteger) {
  EXPECT_CONTAINS(error_of("[model]\nhidden_size = 256.0\n"), "model.hidden_size: expected an integer, got float");
}

TEST(ConfigReject, BooleanOnlyForBoolKeys) {
  EXPECT_CONTAINS(error_of("[model]\nnorm_topk_prob = 1\n"), "model.norm_topk_prob: expected a boolean, got integer");
  EXPECT_CONTAINS(error_of("[train]\nsteps = true\n"), "train.steps: expected an integer, got boolean");
}

TEST(ConfigReject, WrongTypeForName) {
  EXPECT_CONTAINS(error_of("name = 3\n"), "t.toml: name: expected a string, got integer");
}

TEST(ConfigReject, IntegerOutOfRange) {
  EXPECT_CONTAINS(error_of("[model]\nhidden_size = 4294967296\n"), "model.hidden_size: 4294967296 is out of range");
}

TEST(ConfigReject, NegativeSeed) {
  EXPECT_CONTAINS(error_of("[train]\nseed = -1\n"), "train.seed: must be >= 0, got -1");
}

TEST(ConfigReject, TomlSyntaxErrorCarriesLineAndColumn) {
  std::string msg = error_of("name = \"x\"\n[model]\nhidden_size = = 3\n");
  EXPECT_EQ(msg.rfind("t.toml:3:", 0), 0u) << msg;
}

TEST(ConfigReject, DuplicateKeyIsASyntaxError) {
  std::string msg = error_of("[train]\nsteps = 3\nsteps = 4\n");
  EXPECT_EQ(msg.rfind("t.toml:3:", 0), 0u) << msg;
}

TEST(ConfigReject, TopKLargerThanExperts) {
  EXPECT_EQ(error_of("[model]\nnum_experts_per_tok = 9\n"),
            "t.toml: model.num_experts_per_tok: 9 is larger than model.n_routed_experts (8)");
}

TEST(ConfigReject, TopkGroupLargerThanGroups) {
  EXPECT_CONTAINS(error_of("[model]\ntopk_group = 3\n"), "model.topk_group: 3 is larger than model.n_group (2)");
}

TEST(ConfigReject, ExpertsNotDivisibleIntoGroups) {
  std::string msg = error_of("[model]\nn_routed_experts = 9\nn_group = 2\n");
  EXPECT_CONTAINS(msg, "model.n_routed_experts: 9 experts cannot be split evenly");
  EXPECT_CONTAINS(msg, "n_group = 2");
}

TEST(ConfigReject, GroupsNeedTwoExpertsEach) {
  std::string msg = error_of("[model]\nn_routed_experts = 8\nn_group = 8\ntopk_group = 2\n");
  EXPECT_CONTAINS(msg, "model.n_group: 8 groups leave 1 expert per group");
  EXPECT_CONTAINS(msg, "top-2");
}

TEST(ConfigReject, KeptGroupsTooFewForTopK) {
  std::string msg = error_of("[model]\nn_routed_experts = 8\nn_group = 4\ntopk_group = 1\nnum_experts_per_tok = 3\n");
  EXPECT_CONTAINS(msg, "model.topk_group:");
  EXPECT_CONTAINS(msg, "fewer than model.num_experts_per_tok (3)");
}

TEST(ConfigReject, ZeroSize) {
  EXPECT_CONTAINS(error_of("[model]\nhidden_size = 0\n"), "t.toml: model.hidden_size: must be > 0, got 0");
  EXPECT_CONTAINS(error_of("[train]\nbatch_size = 0\n"), "train.batch_size: must be > 0, got 0");
}

TEST(ConfigReject, NegativeSize) {
  EXPECT_CONTAINS(error_of("[model]\nkv_lora_rank = -4\n"), "model.kv_lora_rank: must be > 0, got -4");
  EXPECT_CONTAINS(error_of("[model]\nq_lora_rank = -1\n"), "model.q_lora_rank: must be >= 0, got -1");
  EXPECT_CONTAINS(error_of("[model]\nn_routed_experts = -8\n"), "model.n_routed_experts: must be >= 0, got -8");
}

TEST(ConfigReject, VocabTooSmallForTokenizer) {
  std::string msg = error_of("[model]\nvocab_size = 256\n");
  EXPECT_CONTAINS(msg, "model.vocab_size: must be at least 264");
  EXPECT_CONTAINS(msg, "got 256");
}

TEST(ConfigReject, DenseLayersBeyondDepth) {
  EXPECT_CONTAINS(error_of("[model]\nfirst_k_dense_replace = 7\n"),
                  "model.first_k_dense_replace: 7 is larger than model.num_hidden_layers (6)");
}

TEST(ConfigReject, OddRopeDim) {
  std::string msg = error_of("[model]\nqk_rope_head_dim = 15\n");
  EXPECT_CONTAINS(msg, "model.qk_rope_head_dim: 15 is odd");
  EXPECT_CONTAINS(msg, "must be even");
}

TEST(ConfigReject, BadScoringFunc) {
  EXPECT_CONTAINS(error_of("[model]\nscoring_func = \"relu\"\n"),
                  "model.scoring_func: \"relu\" is not one of \"sigmoid\", \"softmax\"");
}

TEST(ConfigReject, BadCarryStyle) {
  EXPECT_CONTAINS(error_of("[curriculum]\ncarry_style = \"three\"\n"),
                  "curriculum.carry_style: \"three\" is not one of \"sum\", \"two_facts\"");
}

TEST(ConfigReject, BadLrSchedule) {
  EXPECT_CONTAINS(error_of("[train]\nlr_schedule = \"linear\"\n"), "train.lr_schedule: \"linear\" is not one of");
}

TEST(ConfigReject, NonPositiveRopeThetaAndEps) {
  EXPECT_CONTAINS(error_of("[model]\nrope_theta = 0\n"), "model.rope_theta: must be > 0, got 0.0");
  EXPECT_CONTAINS(error_of("[model]\nrms_norm_eps = -1e-6\n"), "model.rms_norm_eps: must be > 0, got -1e-06");
}

TEST(ConfigReject, NonFiniteFloat) {
  EXPECT_CONTAINS(error_of("[train]\nlr = nan\n"), "train.lr: must be a finite number, got nan");
  EXPECT_CONTAINS(error_of("[model]\nrope_theta = inf\n"), "model.rope_theta: must be a finite number, got inf");
}

TEST(ConfigReject, LearningRates) {
  EXPECT_CONTAINS(error_of("[train]\nlr = 0\n"), "train.lr: must be > 0, got 0.0");
  EXPECT_CONTAINS(error_of("[train]\nmin_lr = 0.01\n"), "train.min_lr: 0.01 is larger than train.lr (0.003)");
  EXPECT_CONTAINS(error_of("[train]\nmin_lr = -0.1\n"), "train.min_lr: must be >= 0, got -0.1");
}

TEST(ConfigReject, DecayStepsOutsideTheRun) {
  EXPECT_CONTAINS(error_of("[train]\ndecay_steps = -1\n"), "train.decay_steps: must be >= 0, got -1");
  EXPECT_CONTAINS(error_of("[train]\nsteps = 100\ndecay_steps = 101\n"),
                  "train.decay_steps: 101 is larger than train.steps (100)");
  EXPECT_CONTAINS(error_of("[train]\nwarmup_steps = 20\ndecay_steps = 20\n"),
                  "train.decay_steps: 20 must be larger than train.warmup_steps (20)");
}

TEST(TrainSchedule, DecayStepsReachesTheFloorEarlyAndStaysThere) {
  aha::TrainConfig t;
  t.steps = 1000;
  t.warmup_steps = 10;
  t.lr = 0.006;
  t.min_lr = 0.0003;
  // decay_steps = 0: the cosine ends at the last step (the rule before the key existed)
  EXPECT_DOUBLE_EQ(aha::learning_rate(t, 505), 0.5 * (0.006 + 0.0003));
  EXPECT_GT(aha::learning_rate(t, 900), 0.0003 + 1e-6);
  EXPECT_DOUBLE_EQ(aha::learning_rate(t, 1000), 0.0003);
  t.decay_steps = 410;
  EXPECT_DOUBLE_EQ(aha::learning_rate(t, 5), 0.006 * 6 / 10);  // warm-up unchanged
  EXPECT_DOUBLE_EQ(aha::learning_rate(t, 10), 0.006);
  EXPECT_DOUBLE_EQ(aha::learning_rate(t, 210), 0.5 * (0.006 + 0.0003));  // half way to step 410
  EXPECT_DOUBLE_EQ(aha::learning_rate(t, 410), 0.0003);
  EXPECT_DOUBLE_EQ(aha::learning_rate(t, 900), 0.0003);  // the floor until the end
}

TEST(ConfigReject, AdamBetasOutOfRange) {
  EXPECT_CONTAINS(error_of("[train]\nbeta1 = 1.0\n"), "train.beta1: 1.0 is not in [0, 1)");
  EXPECT_CONTAINS(error_of("[train]\nbeta2 = -0.5\n"), "train.beta2: -0.5 is not in [0, 1)");
}

TEST(ConfigReject, NegativeRegularisers) {
  EXPECT_CONTAINS(error_of("[train]\nweight_decay = -0.1\n"), "train.weight_decay: must be >= 0, got -0.1");
  EXPECT_CONTAINS(error_of("[train]\ngrad_clip = -1\n"), "train.grad_clip: must be >= 0, got -1.0");
  EXPECT_CONTAINS(error_of("[model]\naux_loss_alpha = -1\n"), "model.aux_loss_alpha: must be >= 0, got -1.0");
  EXPECT_CONTAINS(error_of("[model]\nbias_update_speed = -1\n"), "model.bias_update_speed: must be >= 0, got -1.0");
  EXPECT_CONTAINS(error_of("[model]\nmtp_loss_weight = -1\n"), "model.mtp_loss_weight: must be >= 0, got -1.0");
}

TEST(ConfigReject, SeqLenBeyondMaxPositions) {
  EXPECT_CONTAINS(error_of("[train]\nseq_len = 4096\n"),
                  "train.seq_len: 4096 is larger than model.max_position_embeddings (2048)");
}

TEST(ConfigReject, SeqLenTooShortForMtp) {
  std::string msg = error_of("[model]\nnum_nextn_predict_layers = 2\n[train]\nseq_len = 3\n");
  EXPECT_CONTAINS(msg, "train.seq_len: 3 is too short for model.num_nextn_predict_layers = 2");
  EXPECT_CONTAINS(msg, "at least 4");
}

TEST(ConfigReject, NegativeMtpDepth) {
  EXPECT_CONTAINS(error_of("[model]\nnum_nextn_predict_layers = -1\n"),
                  "model.num_nextn_predict_layers: must be >= 0, got -1");
}

TEST(ConfigReject, WarmupLongerThanTraining) {
  EXPECT_CONTAINS(error_of("[train]\nwarmup_steps = 400\n"), "train.warmup_steps: 400 is larger than train.steps (300)");
  EXPECT_CONTAINS(error_of("[train]\nwarmup_steps = -1\n"), "train.warmup_steps: must be >= 0, got -1");
}

TEST(ConfigReject, LoggingAndThreads) {
  EXPECT_CONTAINS(error_of("[train]\nlog_every = 0\n"), "train.log_every: must be >= 1, got 0");
  EXPECT_CONTAINS(error_of("[train]\nthreads = -2\n"), "train.threads: must be >= 0, got -2");
  EXPECT_CONTAINS(error_of("[train]\ncheckpoint_every = -1\n"), "train.checkpoint_every: must be >= 0, got -1");
}

TEST(ConfigReject, EvalFractionOutOfRange) {
  EXPECT_CONTAINS(error_of("[data]\neval_fraction = 0.7\n"), "data.eval_fraction: 0.7 is not in [0, 0.5]");
}

TEST(ConfigReject, EmptyDataSource) {
  EXPECT_CONTAINS(error_of("[data]\nsource = \"\"\n"), "data.source: must not be empty");
}

TEST(ConfigReject, SyntheticCorpusTooSmall) {
  EXPECT_CONTAINS(error_of("[data]\nsynthetic_bytes = 100\n"), "data.synthetic_bytes: 100 is too small");
}

TEST(ConfigReject, BadRunName) {
  EXPECT_CONTAINS(error_of("name = \"\"\n"), "name: must not be empty");
  EXPECT_CONTAINS(error_of("name = \"a/b\"\n"), "name: \"a/b\" cannot be used as a file name");
}

TEST(ConfigReject, ValidateWithoutOriginSaysConfig) {
  RunConfig c;
  c.model.hidden_size = 0;
  try {
    aha::validate(c);
    FAIL() << "accepted hidden_size = 0";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("config: model.hidden_size:", 0), 0u) << e.what();
  }
}

// ---- load_config ------------------------------------------------------------

TEST(ConfigLoad, UnknownNameListsPresets) {
  try {
    aha::load_config("no-such-preset");
    FAIL() << "loaded a preset that does not exist";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_CONTAINS(msg, "no-such-preset");
    EXPECT_CONTAINS(msg, "micro");
    EXPECT_CONTAINS(msg, "tiny");
  }
}

TEST(ConfigLoad, DirectoryIsAnIoError) {
  TempDir dir("dir");
  EXPECT_THROW(aha::load_config(dir.path.string()), aha::IoError);
}

TEST(ConfigLoad, RelativeSourceIsResolvedNextToTheFile) {
  TempDir dir("rel");
  write_file(dir.path / "run.toml", "[data]\nsource = \"corpus.txt\"\n");
  write_file(dir.path / "synth.toml", "[data]\nsource = \"synthetic\"\n");
  write_file(dir.path / "abs.toml", "[data]\nsource = \"/abs/corpus.txt\"\n");
  EXPECT_EQ(fs::path(aha::load_config((dir.path / "run.toml").string()).data.source), dir.path / "corpus.txt");
  EXPECT_EQ(aha::load_config((dir.path / "synth.toml").string()).data.source, "synthetic");
  EXPECT_EQ(aha::load_config((dir.path / "abs.toml").string()).data.source, "/abs/corpus.txt");
}

TEST(ConfigLoad, FileErrorsNameThePath) {
  TempDir dir("err");
  fs::path p = dir.path / "bad.toml";
  write_file(p, "[model]\nnum_experts_per_tok = 9\n");
  try {
    aha::load_config(p.string());
    FAIL() << "accepted a bad file";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), p.string() + ": model.num_experts_per_tok: 9 is larger than model.n_routed_experts (8)");
  }
}

TEST(ConfigLoad, RejectedConfigWritesNothing) {
  TempDir dir("nowrite");
  fs::path bad = dir.path / "bad.toml";
  write_file(bad, "[train]\nwarmup_steps = 400\n");
  // Run from inside the directory so a stray relative write would land there too.
  fs::path old = fs::current_path();
  fs::current_path(dir.path);
  EXPECT_THROW(aha::load_config("bad.toml"), ConfigError);
  EXPECT_THROW(aha::parse_config("[model]\nhiden_size = 1\n", "inline"), ConfigError);
  fs::current_path(old);
  size_t entries = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.path)) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "bad.toml");
  }
  EXPECT_EQ(entries, 1u);
}

namespace aha {
namespace {
TEST(ConfigReject, GrpoRules) {
  const std::string on = "[grpo]\nsteps = 5\n";
  EXPECT_CONTAINS(error_of(on + "task = \"chess\"\n"), "grpo.task: \"chess\" is not a task");
  EXPECT_CONTAINS(error_of(on + "group_size = 1\n"), "grpo.group_size: 1 must be at least 2");
  EXPECT_CONTAINS(error_of(on + "difficulty = 4\n"), "grpo.difficulty: 4 is not in [0, 3]");
  EXPECT_CONTAINS(error_of(on + "advantage = \"ppo\"\n"), "grpo.advantage: \"ppo\" is not");
  EXPECT_CONTAINS(error_of(on + "loss_agg = \"sum\"\n"), "grpo.loss_agg: \"sum\" is not");
  EXPECT_CONTAINS(error_of(on + "epsilon_low = 1.5\n"), "grpo.epsilon_low: 1.5 is not in (0, 1)");
  EXPECT_CONTAINS(error_of(on + "temperature = 0\n"), "grpo.temperature: 0.0 must be > 0");
  EXPECT_CONTAINS(error_of(on + "beta = -0.1\n"), "grpo.beta: must be >= 0");
  EXPECT_CONTAINS(error_of(on + "top_p = 0\n"), "grpo.top_p: 0.0 is not in (0, 1]");
  EXPECT_CONTAINS(error_of(on + "micro_batch = 64\n"), "grpo.micro_batch: 64 is larger than prompts_per_step");
  EXPECT_CONTAINS(error_of("[grpo]\nsteps = -1\n"), "grpo.steps: must be >= 0");
  EXPECT_CONTAINS(error_of("[grpo]\ndynamic_sampling = 1\n"), "grpo.dynamic_sampling");
}
}  // namespace
}  // namespace aha

namespace aha {
namespace {
TEST(ConfigOverrides, SetKeysWithTheFileRules) {
  RunConfig c = apply_overrides(load_config("tiny"), {"grpo.steps=3", "grpo.task=linear", "train.lr=0.01",
                                                      "grpo.dynamic_sampling=true", "name=\"x y\""});
  EXPECT_EQ(c.grpo.steps, 3);
  EXPECT_EQ(c.grpo.task, "linear");
  EXPECT_DOUBLE_EQ(c.train.lr, 0.01);
  EXPECT_TRUE(c.grpo.dynamic_sampling);
  EXPECT_EQ(c.name, "x y");
  auto err = [](std::vector<std::string> s) {
    try {
      apply_overrides(load_config("tiny"), s);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_CONTAINS(err({"grpo.stepz=3"}), "--set grpo.stepz=3: grpo.stepz: unknown key (did you mean grpo.steps?)");
  EXPECT_CONTAINS(err({"train.steps=many"}), "train.steps: expected an integer, got string");
  EXPECT_CONTAINS(err({"train.steps"}), "expected KEY=VALUE");
  EXPECT_CONTAINS(err({"model.n_routed_experts=3"}), "model.n_routed_experts");  // the rules still apply
}
}  // namespace
}  // namespace aha

TEST(ConfigTagsNotes, ParseRoundTripAndNameTheirKeys) {
  aha::RunConfig c = aha::parse_config("name = \"x\"\ntags = [\"a\", \"b c\"]\nnotes = \"line\\nnext\"\n", "inline");
  EXPECT_EQ(c.tags, (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(c.notes, "line\nnext");
  const aha::RunConfig back = aha::parse_config(aha::to_toml(c), "round-trip");
  EXPECT_EQ(back.tags, c.tags);
  EXPECT_EQ(back.notes, c.notes);
  try {
    aha::parse_config("tags = [\"a\", 3]\n", "inline");
    FAIL() << "a number among the tags was accepted";
  } catch (const aha::ConfigError& e) {
    EXPECT_EQ(e.key(), "tags[1]");
  }
}

TEST(ConfigFields, ListEveryKeyWithItsValueAndFeedOverridesBack) {
  const aha::RunConfig c = aha::load_config("micro");
  const auto fields = aha::config_fields(c);
  auto find = [&](const std::string& t, const std::string& k) {
    for (const auto& f : fields)
      if (f.table == t && f.key == k) return f;
    ADD_FAILURE() << t << "." << k << " missing";
    return aha::ConfigField{};
  };
  EXPECT_EQ(find("model", "hidden_size").value, "64");
  EXPECT_EQ(find("model", "hidden_size").type, "int");
  EXPECT_EQ(find("train", "lr_schedule").value, "\"cosine\"");
  EXPECT_EQ(find("model", "norm_topk_prob").type, "bool");
  EXPECT_EQ(find("", "tags").type, "strings");
  // every field's text goes back through apply_overrides unchanged
  std::vector<std::string> sets;
  for (const auto& f : fields) sets.push_back((f.table.empty() ? "" : f.table + ".") + f.key + "=" + f.value);
  const aha::RunConfig again = aha::apply_overrides(c, sets);
  EXPECT_EQ(aha::to_toml(again), aha::to_toml(c));
  // a rule broken through an override names the key, for the form to show beside it
  try {
    aha::apply_overrides(c, {"model.num_experts_per_tok=9"});
    FAIL() << "top-k above the expert count was accepted";
  } catch (const aha::ConfigError& e) {
    EXPECT_EQ(e.key(), "model.num_experts_per_tok") << e.what();
  }
}
