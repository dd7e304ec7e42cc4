// The GRPO objective (DeepSeekMath §4.1, DeepSeek-R1 §2.2.1) and the variants users
// compare: group-normalised or Dr. GRPO advantages, a token-level clipped surrogate with
// separate ε_low / ε_high (DAPO's clip-higher), a KL penalty to a frozen reference with
// Schulman's k3 estimator, and three ways to aggregate token losses. Pure functions on
// flat arrays so every case can be checked by hand (tests/test_grpo.cpp); the stage that
// samples, scores and updates is engine/stage_grpo.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

enum class AdvantageMode {
  Group,   // (r − mean_group) / (std_group + ε), std Bessel-corrected (TRL, verl)
  DrGrpo,  // r − mean_group (Dr. GRPO: no std, no question-difficulty bias)
};
enum class LossAgg {
  SeqMeanTokenMean,  // "seq-mean-token-mean": mean over a completion's tokens, then over completions (GRPO)
  TokenMean,         // "token-mean": Σ over all tokens / number of tokens (DAPO, TRL's default)
  SeqMeanTokenSumNorm,  // "seq-mean-token-sum-norm": Σ / (completions · max_new_tokens) (Dr. GRPO)
};
AdvantageMode advantage_mode_from(const std::string& s);  // "group" | "dr_grpo"; InvalidArgument
LossAgg loss_agg_from(const std::string& s);              // the strings above; InvalidArgument

// Mean and Bessel-corrected standard deviation of v[0, n) (std 0 for n < 2), the std
// TRL and verl use for group advantages.
struct MeanStd { double mean = 0, std = 0; };
MeanStd mean_std(const double* v, size_t n);
inline MeanStd mean_std(const std::vector<double>& v) { return mean_std(v.data(), v.size()); }

// rewards[P·G], group g = rewards[g·G, (g+1)·G). Returns the advantage of each completion.
// scale_batch divides every advantage by the batch's std (after the group step; "Lite
// PPO"); groups whose rewards all agree get advantage 0. eps guards the division.
// Rewards closer than this agree (a zero-std group, frac_reward_zero_std).
constexpr double kRewardTie = 1e-12;
std::vector<double> grpo_advantages(const std::vector<double>& rewards, int G, AdvantageMode mode,
                                    bool scale_batch = false, double eps = 1e-4);

struct PolicyLossConfig {
  double eps_low = 0.2, eps_high = 0.2;  // ratio clipped to [1 − eps_low, 1 + eps_high]
  double beta = 0.0;                     // KL coefficient (0: no KL term)
  LossAgg agg = LossAgg::SeqMeanTokenMean;
  int max_len = 0;                       // the constant normaliser of SeqMeanTokenSumNorm
};

// Sums of the step's diagnostics over the scored tokens (divide by `tokens`).
struct PolicyLossStats {
  double loss = 0;        // the aggregated objective (policy + β·KL)
  double policy_loss = 0; // the aggregated clipped-surrogate part
  double kl_sum = 0;      // Σ k3 over tokens
  double clip_low = 0, clip_high = 0, clip_region = 0;  // counts of tokens
  double ratio_sum = 0;
  double tokens = 0;
};

// The objective over one batch of token positions. For position n: seq[n] is its
// completion's index (−1: not scored), logp/old_logp/ref_logp the log-probabilities of
// the sampled token under the policy, the sampling policy and the reference (ref_logp may
// be null when beta = 0), adv[seq] the completion's advantage and seq_len[seq] its scored
// token count; n_seqs completions in the whole step (the aggregation's denominators are
// over the whole step, so a step split into micro-batches sums to the same objective).
//   token loss ℓ = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A) + β·k3,
//   ρ = exp(logp − old_logp) (log-ratio clamped to ±20), k3 = e^δ − δ − 1, δ = ref − logp.
// Writes dL/dlogp into dlogp (same size as logp) and adds to stats.
double grpo_token_objective(const std::vector<float>& logp, const std::vector<float>& old_logp,
                            const std::vector<float>* ref_logp, const std::vector<int>& seq,
                            const std::vector<double>& adv, const std::vector<int>& seq_len, int n_seqs,
                            const PolicyLossConfig& cfg, std::vector<float>& dlogp, PolicyLossStats& stats);

}  // namespace aha
