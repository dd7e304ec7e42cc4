// Packed GRPO rows (engine/grpo_pack.h): the layout by hand, and the claim that makes
// packing safe — every scored token's log-probability and the objective's gradients are
// those of the plain one-sequence-per-completion layout.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/grpo_pack.h"
#include "engine/model.h"
#include "engine/rng.h"
#include "kernels/cpu/ops.h"
#include "grad_check.h"

namespace aha {
namespace {

TEST(GrpoPack, LayoutByHand) {
  const std::vector<int32_t> prompt = {1, 2, 3, 4}, a = {10, 11, 12}, b = {20, 21}, other = {7, 8}, c = {30};
  std::vector<PackItem> items = {{0, &prompt, &a, 5, true}, {0, &prompt, &b, 6, false}, {1, &other, &c, 7, true}};
  std::vector<int> seq;
  const Batch bt = pack_rows(items, seq);
  ASSERT_EQ(bt.B, 2);
  ASSERT_EQ(bt.T, 8);  // 3 prompt tokens + 3 + 2
  EXPECT_EQ(bt.inputs, (std::vector<int32_t>{1, 2, 3, 4, 10, 11, 4, 20, /* row 1 */ 7, 8, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bt.targets, (std::vector<int32_t>{-1, -1, -1, 10, 11, 12, 20, 21, /* row 1 */ -1, 30, -1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(bt.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 3, 4, /* row 1 */ 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bt.gap_begin, (std::vector<int32_t>{0, 0, 0, 3, 3, 3, 3, 3, /* row 1 */ 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bt.gap_end, (std::vector<int32_t>{0, 0, 0, 3, 3, 3, 6, 6, /* row 1 */ 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(seq, (std::vector<int>{-1, -1, -1, 5, 5, 5, -1, -1, /* row 1 */ -1, 7, -1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(bt.mask[3], 1.0f);
  EXPECT_EQ(bt.mask[6], 0.0f);  // item 6 is in the batch but not scored
  EXPECT_EQ(bt.inputs[10], 0) << "padding is the pad token";

  // items of one row must share their prompt
  items[1].prompt = &other;
  EXPECT_THROW(pack_rows(items, seq), InvalidArgument);
}

ModelConfig small_model() {
  RunConfig c = load_config("micro");
  c.model.num_nextn_predict_layers = 0;  // GRPO's objective path runs no MTP
  c.model.aux_loss_alpha = 0.0;          // the balance loss's "sequence" is a row (packed: a group)
  c.model.max_position_embeddings = 512;
  return c.model;
}

// Three prompts of different lengths with 3, 2 and 1 completions (one unscored), rows
// longer than the fast attention kernel's 64-query blocks.
struct Fixture {
  std::vector<std::vector<int32_t>> prompts, completions;
  std::vector<PackItem> items;
  Fixture() {
    Rng r(9);
    const int prompt_len[3] = {57, 41, 66}, n_comp[3] = {3, 2, 1};
    auto tokens = [&](int n) {
      std::vector<int32_t> t;
      for (int i = 0; i < n; i++) t.push_back(8 + (int32_t)r.below(256));
      return t;
    };
    for (int p = 0; p < 3; p++) {
      prompts.push_back(tokens(prompt_len[p]));
      for (int k = 0; k < n_comp[p]; k++) completions.push_back(tokens(9 + 13 * k + 5 * p));
    }
    int s = 0;
    for (int p = 0; p < 3; p++)
      for (int k = 0; k < n_comp[p]; k++, s++) items.push_back({p, &prompts[p], &completions[s], s, s != 3});
  }
};

// (completion, token index within it) -> flat position of its scored target
std::map<std::pair<int, int>, size_t> scored_positions(const std::vector<int>& seq) {
  std::map<std::pair<int, int>, size_t> out;
  std::map<int, int> next;
  for (size_t n = 0; n < seq.size(); n++)
    if (seq[n] >= 0) out[{seq[n], next[seq[n]]++}] = n;
  return out;
}

TEST(GrpoPack, SameLogProbsAndGradientsAsThePlainLayout) {
  const ModelConfig mc = small_model();
  Fixture f;
  std::vector<int> seq_plain, seq_packed;
  const Batch plain = plain_rows(f.items, seq_plain), packed = pack_rows(f.items, seq_packed);
  ASSERT_LT((size_t)packed.B * packed.T, (size_t)plain.B * plain.T) << "packing must save tokens here";
  const auto pos_plain = scored_positions(seq_plain), pos_packed = scored_positions(seq_packed);
  ASSERT_EQ(pos_plain.size(), pos_packed.size());
  size_t expected = 0;
  for (const PackItem& it : f.items) expected += it.scored ? it.completion->size() : 0;
  ASSERT_EQ(pos_plain.size(), expected);

  for (kernels::Ops* ops : {&kernels::reference_ops(), &kernels::cpu_ops()}) {
    SCOPED_TRACE(ops->name());
    Model a(mc, *ops), b(mc, *ops);
    a.init_weights(21);
    b.init_weights(21);
    // log-probabilities of every scored token
    std::vector<float> lp_plain, lp_packed;
    a.token_logprobs(plain, lp_plain);
    b.token_logprobs(packed, lp_packed);
    for (const auto& [key, n] : pos_plain)
      EXPECT_NEAR(lp_plain[n], lp_packed[pos_packed.at(key)], 2e-5) << "completion " << key.first << " token " << key.second;

    // an objective with a different weight per scored token: same gradients
    auto weight = [](int s, int j) { return 0.01 * (1 + s) * (j % 3 == 0 ? -1.0 : 0.5); };
    auto objective = [&](const std::vector<int>& seq) {
      return [&, seq](const std::vector<float>& logp, std::vector<float>& dlogp) {
        std::map<int, int> next;
        double v = 0;
        for (size_t n = 0; n < logp.size(); n++) {
          if (seq[n] < 0) continue;
          const double w = weight(seq[n], next[seq[n]]++);
          v += w * logp[n];
          dlogp[n] = (float)w;
        }
        return v;
      };
    };
    a.zero_grad();
    b.zero_grad();
    const LossParts la = a.forward_backward_objective(plain, objective(seq_plain));
    const LossParts lb = b.forward_backward_objective(packed, objective(seq_packed));
    EXPECT_NEAR(la.total, lb.total, 1e-5);
    const test::GradDiff gd = test::grad_diff(a.params.grads, b.params.grads);
    const double maxdiff = gd.max_diff, maxg = gd.max_abs;
    EXPECT_GT(maxg, 1e-4);
    EXPECT_LT(maxdiff, 1e-4 * maxg) << "max |grad| " << maxg;
  }
}

TEST(GrpoPack, ModelRejectsABrokenLayout) {
  const ModelConfig mc = small_model();
  Fixture f;
  std::vector<int> seq;
  Model m(mc, kernels::cpu_ops());
  m.init_weights(1);
  std::vector<float> lp;
  Batch bt = pack_rows(f.items, seq);
  bt.gap_end[bt.T - 1] = bt.T;  // a query that would hide itself
  EXPECT_THROW(m.token_logprobs(bt, lp), InvalidArgument);
  bt = pack_rows(f.items, seq);
  bt.positions.pop_back();
  EXPECT_THROW(m.token_logprobs(bt, lp), InvalidArgument);
}

}  // namespace
}  // namespace aha
