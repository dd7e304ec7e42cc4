// GRPO: advantages and the token objective against hand-computed cases, the model's
// token-objective path against the plain masked loss, and short GRPO runs (the reward
// really rises; guards).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/grpo.h"
#include "engine/model.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/run.h"
#include "engine/store.h"
#include "engine/stages.h"
#include "kernels/cpu/ops.h"
#include "grad_check.h"

namespace aha {
namespace {

// ---- advantages -----------------------------------------------------------------------

TEST(GrpoAdvantages, GroupNormalisedWithBesselStd) {
  // group 1: {1, 0}: mean 0.5, Bessel std sqrt(0.5) = 0.70711; group 2: {2, 2, ...} all equal
  const std::vector<double> r = {1, 0, 3, 3};
  const auto a = grpo_advantages(r, 2, AdvantageMode::Group, false, 1e-4);
  const double sd = std::sqrt(0.5);
  EXPECT_NEAR(a[0], 0.5 / (sd + 1e-4), 1e-12);
  EXPECT_NEAR(a[1], -0.5 / (sd + 1e-4), 1e-12);
  EXPECT_EQ(a[2], 0.0);  // zero-std group: no signal
  EXPECT_EQ(a[3], 0.0);
}

TEST(GrpoAdvantages, AgreeingRewardsGiveExactlyZeroDespiteRounding) {
  // 1.1 (accuracy + 0.1 format) eight times: the running mean is not exactly 1.1, and
  // (r − mean)/(std + eps) would be ~1e-12, not 0 (which skip_zero_advantage relies on)
  const std::vector<double> r(8, 1.1);
  double mean = 0;
  for (double v : r) mean += v / 8;
  ASSERT_NE(mean, 1.1) << "the case no longer shows the rounding";
  for (AdvantageMode mode : {AdvantageMode::Group, AdvantageMode::DrGrpo})
    for (double a : grpo_advantages(r, 8, mode, false)) EXPECT_EQ(a, 0.0);
}

TEST(GrpoAdvantages, ThreeMemberGroupByHand) {
  // {0, 0.1, 1.1}: mean 0.4, deviations −0.4, −0.3, 0.7, Σd² = 0.74, std = sqrt(0.37)
  const auto a = grpo_advantages({0, 0.1, 1.1}, 3, AdvantageMode::Group, false, 0.0);
  const double sd = std::sqrt(0.37);
  EXPECT_NEAR(a[0], -0.4 / sd, 1e-12);
  EXPECT_NEAR(a[1], -0.3 / sd, 1e-12);
  EXPECT_NEAR(a[2], 0.7 / sd, 1e-12);
}

TEST(GrpoAdvantages, DrGrpoOnlyCentres) {
  const auto a = grpo_advantages({1, 0, 0, 0}, 4, AdvantageMode::DrGrpo);
  EXPECT_DOUBLE_EQ(a[0], 0.75);
  EXPECT_DOUBLE_EQ(a[1], -0.25);
}

TEST(GrpoAdvantages, BatchScalingDividesByTheBatchStd) {
  const auto a = grpo_advantages({1, 0, 0, 0}, 2, AdvantageMode::DrGrpo, true, 0.0);
  // centred {0.5, −0.5, 0, 0}: batch std (Bessel) = sqrt(0.5/3)
  const double sd = std::sqrt(0.5 / 3);
  EXPECT_NEAR(a[0], 0.5 / sd, 1e-12);
  EXPECT_NEAR(a[1], -0.5 / sd, 1e-12);
  EXPECT_EQ(a[2], 0.0);
}

TEST(GrpoAdvantages, RejectsPartialGroupsAndNonFiniteRewards) {
  EXPECT_THROW(grpo_advantages({1, 0, 1}, 2, AdvantageMode::Group), InvalidArgument);
  EXPECT_THROW(grpo_advantages({1, NAN}, 2, AdvantageMode::Group), NumericError);
}

// ---- the token objective ------------------------------------------------------------------

struct Case {
  double ratio, adv, loss, grad;  // expected per-token loss and dL/dlogp (weight 1)
  bool low, high;
};

TEST(GrpoObjective, ClippingOnBothSidesByHand) {
  // ε_low = 0.2, ε_high = 0.28; one completion of one token each, aggregation weight 1
  PolicyLossConfig cfg;
  cfg.eps_low = 0.2;
  cfg.eps_high = 0.28;
  const std::vector<Case> cases = {
      {1.5, 1.0, -1.28, 0.0, false, true},   // above 1+ε_high with A > 0: clipped, no gradient
      {0.5, -1.0, 0.8, 0.0, true, false},    // below 1−ε_low with A < 0: clipped, no gradient
      {0.5, 1.0, -0.5, -0.5, false, false},  // below with A > 0: min picks ρA, gradient −ρA
      {1.5, -1.0, 1.5, 1.5, false, false},   // above with A < 0: min picks ρA (pessimistic)
      {1.1, 2.0, -2.2, -2.2, false, false},  // inside the band
  };
  for (const Case& c : cases) {
    const std::vector<float> old = {-1.0f}, logp = {(float)(-1.0 + std::log(c.ratio))};
    std::vector<float> d;
    PolicyLossStats st;
    const double v = grpo_token_objective(logp, old, nullptr, {0}, {c.adv}, {1}, 1, cfg, d, st);
    EXPECT_NEAR(v, c.loss, 1e-5) << "ratio " << c.ratio << " A " << c.adv;
    EXPECT_NEAR(d[0], c.grad, 1e-5) << "ratio " << c.ratio << " A " << c.adv;
    EXPECT_EQ(st.clip_low, c.low ? 1.0 : 0.0);
    EXPECT_EQ(st.clip_high, c.high ? 1.0 : 0.0);
    EXPECT_EQ(st.clip_region, (c.low || c.high) ? 1.0 : 0.0);
  }
}

TEST(GrpoObjective, RatioOneGivesMinusAdvantageGradient) {
  // μ = 1: π_old = π, so ρ = 1 and the loss is −A per token, its gradient −A
  PolicyLossConfig cfg;
  const std::vector<float> lp = {-0.3f, -2.0f};
  std::vector<float> d;
  PolicyLossStats st;
  const double v = grpo_token_objective(lp, lp, nullptr, {0, 0}, {0.7}, {2}, 1, cfg, d, st);
  EXPECT_NEAR(v, -0.7, 1e-6);
  EXPECT_NEAR(d[0], -0.35, 1e-6);  // seq-mean-token-mean: weight 1/(1·2)
  EXPECT_NEAR(d[1], -0.35, 1e-6);
}

TEST(GrpoObjective, K3ValueAndGradient) {
  PolicyLossConfig cfg;
  cfg.beta = 0.5;
  const float logp = -1.0f, ref = -1.4f;  // δ = ref − logp = −0.4
  std::vector<float> d;
  PolicyLossStats st;
  const std::vector<float> lp = {logp}, rp = {ref};
  const double v = grpo_token_objective(lp, lp, &rp, {0}, {0.0}, {1}, 1, cfg, d, st);
  const double k3 = std::exp(-0.4) + 0.4 - 1.0;
  EXPECT_NEAR(st.kl_sum, k3, 1e-6);
  EXPECT_GT(k3, 0.0);  // k3 is never negative
  EXPECT_NEAR(v, 0.5 * k3, 1e-6);
  EXPECT_NEAR(d[0], 0.5 * (1.0 - std::exp(-0.4)), 1e-6);
  // the gradient is the derivative of the value: central difference in logp
  const double h = 1e-3;
  auto value_at = [&](double x) {
    std::vector<float> dd;
    PolicyLossStats s2;
    const std::vector<float> l = {(float)x};
    return grpo_token_objective(l, l, &rp, {0}, {0.0}, {1}, 1, cfg, dd, s2);
  };
  EXPECT_NEAR((value_at(logp + h) - value_at(logp - h)) / (2 * h), d[0], 1e-3);
  // zero where policy and reference agree
  PolicyLossStats s3;
  grpo_token_objective(rp, rp, &rp, {0}, {0.0}, {1}, 1, cfg, d, s3);
  EXPECT_NEAR(s3.kl_sum, 0.0, 1e-9);
  EXPECT_NEAR(d[0], 0.0, 1e-9);
}

TEST(GrpoObjective, EachAggregationMode) {
  // completion 0 has 1 token, completion 1 has 3; A = 1 and 2; ratio 1 (gradient −A·w)
  const std::vector<float> lp = {-1, -1, -1, -1, 0};
  const std::vector<int> seq = {0, 1, 1, 1, -1};
  const std::vector<double> adv = {1.0, 2.0};
  const std::vector<int> len = {1, 3};
  PolicyLossConfig cfg;
  std::vector<float> d;
  struct M { LossAgg agg; double w0, w1; };
  for (const M& m : {M{LossAgg::SeqMeanTokenMean, 1.0 / 2, 1.0 / 6}, M{LossAgg::TokenMean, 1.0 / 4, 1.0 / 4},
                     M{LossAgg::SeqMeanTokenSumNorm, 1.0 / 20, 1.0 / 20}}) {
    cfg.agg = m.agg;
    cfg.max_len = 10;
    PolicyLossStats st;
    const double v = grpo_token_objective(lp, lp, nullptr, seq, adv, len, 2, cfg, d, st);
    EXPECT_NEAR(d[0], -1.0 * m.w0, 1e-6);
    EXPECT_NEAR(d[1], -2.0 * m.w1, 1e-6);
    EXPECT_EQ(d[4], 0.0f);  // not scored
    EXPECT_NEAR(v, -(1.0 * m.w0 + 3 * 2.0 * m.w1), 1e-6);
    EXPECT_EQ(st.tokens, 4.0);
  }
  EXPECT_EQ(loss_agg_from("token-mean"), LossAgg::TokenMean);
  EXPECT_THROW(loss_agg_from("mean"), InvalidArgument);
  EXPECT_THROW(advantage_mode_from("ppo"), InvalidArgument);
}

TEST(GrpoObjective, FiniteDifferenceWithRatioAwayFromOne) {
  // μ > 1: old ≠ current; the gradient matches central differences inside the band
  PolicyLossConfig cfg;
  cfg.eps_low = 0.3;
  cfg.eps_high = 0.3;
  const std::vector<float> old = {-1.0f, -2.0f, -0.5f};
  std::vector<float> lp = {-0.9f, -2.1f, -0.55f};
  const std::vector<int> seq = {0, 0, 1};
  const std::vector<double> adv = {0.8, -1.3};
  const std::vector<int> len = {2, 1};
  std::vector<float> d;
  PolicyLossStats st;
  grpo_token_objective(lp, old, nullptr, seq, adv, len, 2, cfg, d, st);
  for (size_t n = 0; n < lp.size(); n++) {
    const double h = 1e-3;
    auto at = [&](double x) {
      std::vector<float> l = lp, dd;
      l[n] = (float)x;
      PolicyLossStats s2;
      return grpo_token_objective(l, old, nullptr, seq, adv, len, 2, cfg, dd, s2);
    };
    EXPECT_NEAR((at(lp[n] + h) - at(lp[n] - h)) / (2 * h), d[n], 2e-3) << "position " << n;
  }
}

// ---- the model's token-objective path -------------------------------------------------------

ModelConfig tiny_model() {
  RunConfig c = load_config("micro");
  c.model.num_nextn_predict_layers = 0;
  c.model.max_position_embeddings = 512;
  return c.model;
}

TEST(GrpoOptimizer, HeadLearningRateScaleMovesOnlyTheHeadFaster) {
  // AdamW's first step moves every weight by lr · g/|g| (bias-corrected moments): with
  // head_lr_scale 4 the output head moves 4 times as far as every other weight.
  const ModelConfig mc = tiny_model();
  Model m(mc, kernels::cpu_ops());
  m.init_weights(3);
  const std::vector<float> before = m.params.weights;
  std::fill(m.params.grads.begin(), m.params.grads.end(), 0.01f);
  TrainConfig tc;
  tc.weight_decay = 0.0;
  tc.grad_clip = 0.0;
  tc.head_lr_scale = 4.0;
  AdamW opt(m.params);
  opt.step(kernels::cpu_ops(), m.params, tc, 1e-3);
  int heads = 0;
  for (const ParamInfo& info : m.params.infos) {
    if (!info.trainable) continue;
    const double want = info.name == "lm_head.weight" ? 4e-3 : 1e-3;
    heads += info.name == "lm_head.weight";
    for (size_t i = info.offset; i < info.offset + info.numel; i += 97)
      ASSERT_NEAR(before[i] - m.params.weights[i], want, 1e-6) << info.name;
  }
  EXPECT_EQ(heads, 1);
}

TEST(GrpoModel, ObjectiveWithMaskWeightsEqualsTheMaskedLoss) {
  // The objective L = −Σ mask·logp / Σ mask is the plain masked cross-entropy: both paths
  // must give the same loss and gradients.
  const ModelConfig mc = tiny_model();
  Model a(mc, kernels::reference_ops()), b(mc, kernels::reference_ops());
  a.init_weights(5);
  b.init_weights(5);
  Batch bt;
  bt.B = 2;
  bt.T = 12;
  Rng r(3);
  for (int n = 0; n < 24; n++) {
    bt.inputs.push_back((int32_t)r.below(264));
    bt.targets.push_back((int32_t)r.below(264));
    bt.mask.push_back(n % 3 == 0 ? 0.0f : 1.0f);
  }
  double denom = 0;
  for (float m : bt.mask) denom += m;
  a.zero_grad();
  b.zero_grad();
  const LossParts la = a.forward_backward(bt);
  std::vector<float> ent;
  const LossParts lb = b.forward_backward_objective(
      bt,
      [&](const std::vector<float>& logp, std::vector<float>& dlogp) {
        double v = 0;
        for (size_t n = 0; n < logp.size(); n++) {
          v -= bt.mask[n] * logp[n] / denom;
          dlogp[n] = (float)(-bt.mask[n] / denom);
        }
        return v;
      },
      1.0f, &ent);
  EXPECT_NEAR(la.total, lb.total, 1e-5);
  const test::GradDiff gd = test::grad_diff(a.params.grads, b.params.grads);
  const double maxdiff = gd.max_diff, maxg = gd.max_abs;
  EXPECT_GT(maxg, 1e-4);
  EXPECT_LT(maxdiff, 1e-5 * std::max(1.0, maxg));
  // entropy: in (0, log V] where scored, 0 elsewhere
  for (size_t n = 0; n < ent.size(); n++) {
    if (bt.mask[n] == 0) EXPECT_EQ(ent[n], 0.0f);
    else { EXPECT_GT(ent[n], 0.0f); EXPECT_LE(ent[n], std::log(264.0) + 1e-4); }
  }
  // token_logprobs gives the same log-probabilities and counts no expert load
  std::vector<float> lp;
  const auto load0 = b.expert_load();
  b.token_logprobs(bt, lp);
  EXPECT_EQ(b.expert_load(), load0);
  double lm = 0;
  for (size_t n = 0; n < lp.size(); n++) lm -= bt.mask[n] * lp[n] / denom;
  EXPECT_NEAR(lm, la.lm, 1e-5);
}

// ---- the stage -----------------------------------------------------------------------------

RunConfig grpo_config(int steps) {
  RunConfig c = load_config("micro");
  c.model.max_position_embeddings = 512;
  c.grpo.steps = steps;
  c.grpo.task = "arithmetic";
  c.grpo.difficulty = 1;
  c.grpo.prompts_per_step = 2;
  c.grpo.group_size = 8;
  c.grpo.micro_batch = 16;
  c.grpo.max_new_tokens = 6;
  c.grpo.lr = 2e-2;
  c.grpo.warmup_steps = 0;
  c.grpo.eval_problems = 0;
  c.curriculum.rl_problems = 20;
  validate(c);
  return c;
}

// An easily rewarded objective for a model that knows nothing: the share of digits in
// the completion (about 4% of a uniform random byte stream).
RewardBreakdown digit_share(const Problem&, const std::string& text) {
  double digits = 0;
  for (char ch : text) digits += ch >= '0' && ch <= '9';
  RewardBreakdown b;
  b.total = text.empty() ? 0.0 : digits / (double)text.size();
  b.parts["digits"] = {b.total, "share of digits"};
  return b;
}

TEST(GrpoStage, RewardRisesOnAnEasyObjective) {
  const RunConfig c = grpo_config(16);
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(11);
  GrpoStage st(c, m, kernels::cpu_ops());
  st.reward_fn = digit_share;
  std::vector<double> rewards;
  int tokens_streamed = 0;
  st.on_token = [&](int sample, const std::string&) {
    EXPECT_GE(sample, 0);
    EXPECT_LT(sample, 16);
    tokens_streamed++;
  };
  for (int s = 0; s < 16; s++) {
    const StepReport rep = st.step();
    rewards.push_back(rep.metrics.at("reward"));
    // every prompt has exactly G samples, each recorded with its group and advantage
    ASSERT_EQ(rep.traces.size(), 16u);
    std::map<int64_t, int> per_group;
    double adv_sum = 0;
    for (const auto& t : rep.traces) { per_group[t.group_id]++; adv_sum += t.advantage; }
    ASSERT_EQ(per_group.size(), 2u);
    for (const auto& [g, n] : per_group) EXPECT_EQ(n, 8) << "group " << g;
    EXPECT_NEAR(adv_sum, 0.0, 1e-6);  // group-centred
    for (const char* k : {"reward_std", "frac_reward_zero_std", "completions/mean_length", "entropy",
                          "clip_ratio/region_mean", "policy_loss", "grad_norm", "lr", "rewards/digits/mean"})
      EXPECT_TRUE(rep.metrics.count(k)) << k;
  }
  EXPECT_GT(tokens_streamed, 0);
  double first = 0, last = 0;
  for (int i = 0; i < 4; i++) { first += rewards[i] / 4; last += rewards[12 + i] / 4; }
  // seen: about 0.04 over the first steps, above 0.9 by step 14
  EXPECT_GT(last, first + 0.3) << "mean reward of the first 4 steps " << first << ", of the last 4 " << last;
}

TEST(GrpoStage, NonFiniteRewardStopsTheStepAndKeepsTheWeights) {
  const RunConfig c = grpo_config(2);
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(12);
  GrpoStage st(c, m, kernels::cpu_ops());
  st.reward_fn = [](const Problem&, const std::string&) {
    RewardBreakdown b;
    b.total = NAN;
    return b;
  };
  const std::vector<float> before = m.params.weights;
  EXPECT_THROW(st.step(), NumericError);
  EXPECT_EQ(m.params.weights, before);
  EXPECT_EQ(st.steps_done(), 0);
}

TEST(GrpoStage, MuUpdatesUseStoredOldLogprobsAndBetaLoadsAReference) {
  RunConfig c = grpo_config(1);
  c.grpo.updates_per_batch = 3;
  c.grpo.beta = 0.05;
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(13);
  GrpoStage st(c, m, kernels::cpu_ops());
  st.reward_fn = digit_share;
  const StepReport rep = st.step();
  ASSERT_TRUE(rep.metrics.count("kl"));
  EXPECT_GE(rep.metrics.at("kl"), 0.0);
  EXPECT_TRUE(std::isfinite(rep.metrics.at("loss")));
  // updates 2 and 3 see a policy that moved: the ratio to the stored π_old is not 1
  EXPECT_GT(std::fabs(rep.metrics.at("importance_ratio/mean") - 1.0), 1e-6);
}

// Skipping the completions of groups whose rewards all agree (advantage 0, β = 0) changes
// no gradient: with the balance loss off, the update's gradient equals the full one.
TEST(GrpoStage, SkippingZeroAdvantageGroupsLeavesTheGradient) {
  RunConfig c = grpo_config(1);
  c.model.aux_loss_alpha = 0.0;  // the only term a skipped completion would add
  c.grpo.prompts_per_step = 3;
  c.grpo.micro_batch = 8;        // one group per micro-batch
  validate(c);
  std::vector<double> grads[2], entropy(2), trained(2), policy(2);
  for (int skip = 0; skip < 2; skip++) {
    RunConfig cs = c;
    cs.grpo.skip_zero_advantage = skip == 1;
    Model m(cs.model, kernels::cpu_ops());
    m.init_weights(14);
    GrpoStage st(cs, m, kernels::cpu_ops());
    int calls = 0;  // completions are rewarded group by group: the middle group all agree
    st.reward_fn = [&calls](const Problem&, const std::string&) {
      const int k = calls++;
      RewardBreakdown b;
      b.total = k / 8 == 1 ? 0.5 : (k % 8) / 7.0;
      return b;
    };
    const StepReport rep = st.step();
    grads[skip].assign(m.params.grads.begin(), m.params.grads.end());
    entropy[skip] = rep.metrics.at("entropy");
    trained[skip] = rep.metrics.at("completions/trained_ratio");
    policy[skip] = rep.metrics.at("policy_loss");
    EXPECT_EQ(rep.metrics.at("frac_reward_zero_std"), 1.0 / 3.0);
  }
  EXPECT_EQ(trained[0], 1.0);
  EXPECT_NEAR(trained[1], 2.0 / 3.0, 1e-12);
  EXPECT_EQ(entropy[0], entropy[1]);  // the sampler's, over every completion
  EXPECT_GT(entropy[0], 0.0);
  EXPECT_NEAR(policy[0], policy[1], 1e-9);
  double maxg = 0, maxdiff = 0;
  for (size_t i = 0; i < grads[0].size(); i++) {
    maxg = std::max(maxg, std::fabs(grads[0][i]));
    maxdiff = std::max(maxdiff, std::fabs(grads[0][i] - grads[1][i]));
  }
  EXPECT_GT(maxg, 1e-6);
  EXPECT_LT(maxdiff, 1e-5 * maxg) << "largest gradient " << maxg;
}

// A step whose groups all agree carries no policy gradient. Run anyway, its only gradient
// is the α balance loss's, which Adam's normalisation turns into ~lr-sized moves of every
// weight upstream of a router; skipped, the step leaves only AdamW's weight decay.
TEST(GrpoStage, AStepWithoutSignalMovesOnlyByWeightDecay) {
  double moved[2] = {0, 0}, scale = 0;
  for (int skip = 0; skip < 2; skip++) {
    RunConfig c = grpo_config(1);
    c.grpo.skip_zero_advantage = skip == 1;
    validate(c);
    Model m(c.model, kernels::cpu_ops());
    m.init_weights(15);
    GrpoStage st(c, m, kernels::cpu_ops());
    st.reward_fn = [](const Problem&, const std::string&) {
      RewardBreakdown b;
      b.total = 1.0;  // every completion equally good: every group agrees
      return b;
    };
    const std::vector<float> before = m.params.weights;
    const StepReport rep = st.step();
    EXPECT_EQ(rep.metrics.at("frac_reward_zero_std"), 1.0);
    EXPECT_EQ(rep.metrics.at("completions/trained_ratio"), skip ? 0.0 : 1.0);
    for (size_t i = 0; i < before.size(); i++) {
      moved[skip] = std::max(moved[skip], (double)std::fabs(m.params.weights[i] - before[i]));
      scale = std::max(scale, (double)std::fabs(before[i]));
    }
  }
  const RunConfig c = grpo_config(1);
  // decoupled decay: |Δw| = lr·wd·|w| at most (up to float rounding)
  EXPECT_LE(moved[1], c.grpo.lr * c.train.weight_decay * scale * 1.001 + 1e-9);
  EXPECT_GT(moved[0], 10 * moved[1]) << "the unskipped step moved weights by " << moved[0];
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {
namespace fs = std::filesystem;

TEST(GrpoRun, PretrainSftGrpoInOneRunAllRecorded) {
  const fs::path dir = fs::temp_directory_path() / ("aha_grpo_run_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  RunConfig c = load_config("micro");
  c.model.max_position_embeddings = 512;
  c.train.steps = 2;
  c.train.warmup_steps = 1;
  c.train.log_every = 2;
  c.data.source = "curriculum";
  c.curriculum.pretrain_problems = 50;
  c.curriculum.sft_problems = 20;
  c.curriculum.rl_problems = 10;
  c.curriculum.eval_problems = 4;
  c.sft.steps = 1;
  c.sft.batch_size = 2;
  c.sft.seq_len = 500;
  c.grpo = grpo_config(2).grpo;
  c.grpo.eval_problems = 2;
  // an untrained model's groups mostly agree (all zero): skipping them would leave the
  // update with no tokens, and this test checks the update's recorded expert loads
  c.grpo.skip_zero_advantage = false;
  validate(c);
  std::map<std::string, int> tokens;  // per stage
  {
    aha::Run run(c, dir.string());
    run.run_blocking();
    EXPECT_EQ(run.status(), RunStatus::Finished);
    while (auto e = run.events().pop(std::chrono::milliseconds(0)))
      if (e->kind == Event::Kind::Token) tokens[e->stage]++;
  }
  // the live chain of thought reached the event stream: GRPO's samples, and the held-out
  // answers of pretraining's and SFT's evaluations (train.eval_samples)
  for (const char* st : {"pretrain", "sft", "grpo"}) EXPECT_GT(tokens[st], 0) << st;
  const RunStoreReader r = RunStoreReader::open(dir.string());
  const RunSummary s = r.summary();
  ASSERT_EQ(s.stages.size(), 3u);
  EXPECT_EQ(s.stages[2].name, "grpo");
  EXPECT_EQ(s.stages[2].status, "finished");
  for (const char* k : {"reward", "frac_reward_zero_std", "completions/clipped_ratio", "eval/arithmetic/pass@1"})
    EXPECT_TRUE(s.latest.count(k)) << k;
  const auto traces = r.traces(2, "grpo");
  // the step's samples, and the greedy answers to the eval_problems held-out problems
  size_t train = 0, held_out = 0;
  for (const auto& t : traces) (t.split == "eval" ? held_out : train)++;
  EXPECT_EQ(train, (size_t)(c.grpo.prompts_per_step * c.grpo.group_size));
  EXPECT_EQ(held_out, (size_t)c.grpo.eval_problems);
  const auto shown = r.traces(2, "pretrain");
  ASSERT_EQ(shown.size(), (size_t)c.train.eval_samples);
  EXPECT_EQ(shown[0].split, "eval");
  EXPECT_FALSE(shown[0].prompt.empty());
  // the policy updates route tokens: the step's expert loads are recorded, not zeros
  const auto moe = r.moe("grpo", 2);
  ASSERT_FALSE(moe.empty());
  for (const auto& layer : moe) {
    int64_t routed = 0;
    for (int64_t t : layer.tokens) routed += t;
    EXPECT_GT(routed, 0) << "layer " << layer.layer;
  }
  EXPECT_TRUE(fs::exists(dir / "checkpoints" / "grpo_step000002" / "model.safetensors"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {
TEST(GrpoStage, DynamicSamplingDropsGroupsThatAllAgreeAndRefills) {
  RunConfig c = grpo_config(1);
  c.grpo.dynamic_sampling = true;
  c.grpo.max_resample = 2;
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(14);
  GrpoStage st(c, m, kernels::cpu_ops());
  // no group carries a signal: rounds of P = 2 prompts are drawn and dropped until the
  // draws run out (P · (1 + max_resample) = 6), and the last round is kept
  st.reward_fn = [](const Problem&, const std::string&) { return RewardBreakdown{}; };
  const StepReport rep = st.step();
  EXPECT_EQ(rep.traces.size(), 16u);  // still P groups of G
  EXPECT_EQ(rep.metrics.at("dynamic_sampling/dropped_groups"), 4.0);
  EXPECT_EQ(rep.metrics.at("frac_reward_zero_std"), 1.0);
  EXPECT_EQ(rep.metrics.at("policy_loss"), 0.0);  // zero advantages: no policy gradient
}
}  // namespace
}  // namespace aha
