// Finite-difference gradient checks of the model's layers through the whole model:
// every parameter tensor of a small model (MLA with and without q_lora, dense SwiGLU,
// router + balance loss, MoE experts and combine, MTP, embedding, head) against central
// differences of the masked loss. Runs on the reference backend (double accumulation).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/config.h"
#include "engine/model.h"
#include "grad_check.h"
#include "one_thread.h"
#include "kernels/cpu/ops.h"

namespace aha {
namespace {

ModelConfig small_config() {
  ModelConfig c;
  c.vocab_size = 264;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.moe_intermediate_size = 16;
  c.num_hidden_layers = 2;
  c.first_k_dense_replace = 1;
  c.num_attention_heads = 2;
  c.n_routed_experts = 4;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 2;
  c.n_group = 2;
  c.topk_group = 1;
  c.q_lora_rank = 16;
  c.kv_lora_rank = 16;
  c.qk_nope_head_dim = 8;
  c.qk_rope_head_dim = 4;
  c.v_head_dim = 8;
  c.num_nextn_predict_layers = 1;
  c.initializer_range = 0.3;     // large weights: large gradients, clear of float round-off
  c.aux_loss_alpha = 0.05;       // make the balance-loss gradient visible
  c.routed_scaling_factor = 1.5;
  return c;
}

Batch random_batch(int B, int T, int V, uint64_t seed, bool partial_mask) {
  Rng rng(seed);
  Batch b;
  b.B = B; b.T = T;
  for (int i = 0; i < B * T; i++) {
    b.inputs.push_back((int32_t)rng.below(V));
    b.targets.push_back((int32_t)rng.below(V));
    b.mask.push_back(partial_mask && i % 3 == 0 ? 0.0f : 1.0f);
  }
  return b;
}

void check_all_tensors(const ModelConfig& c, bool partial_mask, double tol) {
  Model m(c, kernels::reference_ops());
  m.init_weights(7);
  // give the router bias some spread so that it matters for the choice
  for (const auto& p : m.params.infos)
    if (!p.trainable)
      for (size_t i = 0; i < p.numel; i++) m.params.w(p.offset)[i] = 0.01f * (float)((i * 7) % 5);
  Batch b = random_batch(2, 6, c.vocab_size, 11, partial_mask);
  m.zero_grad();
  m.forward_backward(b);
  const std::vector<float> grads = m.params.grads;
  int checked = 0;
  for (const auto& p : m.params.infos) {
    if (!p.trainable) continue;
    // Two step sizes: a large one clears float round-off in the loss; a smaller one
    // avoids a top-k routing choice flipping inside the step (the loss is piecewise
    // smooth). A wrong gradient fails both.
    double fd = 0, an = 0, err = 1e9;
    for (double h : {1e-2, 3e-3}) {
      err = std::min(err, test::directional_check(
                              m.params.w(p.offset), p.numel, grads.data() + p.offset,
                              [&] { return m.forward_loss(b).total; }, 1000 + checked, h, &fd, &an,
                              1e-4));
    }
    EXPECT_LT(err, tol) << p.name << ": finite difference " << fd << " vs analytic " << an;
    checked++;
  }
  EXPECT_GT(checked, 40);
}

TEST(ModelGrad, EveryTensorWithQLoraSigmoidRouting) { check_all_tensors(small_config(), false, 2e-2); }

TEST(ModelGrad, EveryTensorPlainQueryMaskedLoss) {
  ModelConfig c = small_config();
  c.q_lora_rank = 0;
  check_all_tensors(c, true, 2e-2);
}

TEST(ModelGrad, SoftmaxScoringWithoutNormalisation) {
  ModelConfig c = small_config();
  c.scoring_func = "softmax";
  c.norm_topk_prob = false;
  c.n_group = 1;
  c.topk_group = 1;
  check_all_tensors(c, false, 2e-2);
}

TEST(ModelGrad, TwoMtpDepthsNoSharedExpert) {
  ModelConfig c = small_config();
  c.num_nextn_predict_layers = 2;
  c.n_shared_experts = 0;
  check_all_tensors(c, true, 2e-2);
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {

// The fast backend against the reference through a whole model at a preset's real shape,
// on one thread as inside the data-parallel region: that is where the weight gradients go
// to packed_gemm (K = 300 tokens ≥ 256, the dense FFN's N ≥ 512) and attention keeps its
// probabilities for the backward (T = 300: four full 64-query blocks and a partial one).
// Same weights, same random batch; the loss and every gradient must agree to float
// round-off (seen: 6.5e-7 relative L2).
TEST(FastBackend, MatchesTheReferenceThroughTheQuickstartModel) {
  const RunConfig cfg = load_config("quickstart");
  const test::OneOmpThread one;
  Model fast(cfg.model, kernels::cpu_ops()), ref(cfg.model, kernels::reference_ops());
  fast.init_weights(7);
  ref.init_weights(7);
  Batch b;
  b.B = 1;
  b.T = 300;
  std::mt19937 gen(3);
  for (int i = 0; i < b.B * b.T; i++) {
    b.inputs.push_back((int32_t)(gen() % cfg.model.vocab_size));
    b.targets.push_back((int32_t)(gen() % cfg.model.vocab_size));
    b.mask.push_back(1.0f);
  }
  fast.zero_grad();
  ref.zero_grad();
  const LossParts lf = fast.forward_backward(b), lr = ref.forward_backward(b);
  EXPECT_NEAR(lf.total, lr.total, 1e-5 * std::fabs(lr.total));
  const auto& gf = fast.params.grads;
  const auto& gr = ref.params.grads;
  ASSERT_EQ(gf.size(), gr.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < gf.size(); i++) {
    diff += ((double)gf[i] - gr[i]) * ((double)gf[i] - gr[i]);
    norm += (double)gr[i] * gr[i];
  }
  ASSERT_GT(norm, 0.0);
  EXPECT_LT(std::sqrt(diff / norm), 1e-5) << "relative L2 error of the gradients";
}

}  // namespace
}  // namespace aha
