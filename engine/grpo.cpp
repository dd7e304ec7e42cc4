#include "engine/grpo.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace aha {

AdvantageMode advantage_mode_from(const std::string& s) {
  if (s == "group") return AdvantageMode::Group;
  if (s == "dr_grpo") return AdvantageMode::DrGrpo;
  throw InvalidArgument("advantage '" + s + "' is not one of \"group\", \"dr_grpo\"");
}

LossAgg loss_agg_from(const std::string& s) {
  if (s == "seq-mean-token-mean") return LossAgg::SeqMeanTokenMean;
  if (s == "token-mean") return LossAgg::TokenMean;
  if (s == "seq-mean-token-sum-norm") return LossAgg::SeqMeanTokenSumNorm;
  throw InvalidArgument("loss_agg '" + s +
                        "' is not one of \"seq-mean-token-mean\", \"token-mean\", \"seq-mean-token-sum-norm\"");
}

MeanStd mean_std(const double* v, size_t n) {
  MeanStd r;
  if (n == 0) return r;
  for (size_t i = 0; i < n; i++) r.mean += v[i] / (double)n;
  if (n < 2) return r;
  double ss = 0;
  for (size_t i = 0; i < n; i++) ss += (v[i] - r.mean) * (v[i] - r.mean);
  r.std = std::sqrt(ss / (double)(n - 1));
  return r;
}

std::vector<double> grpo_advantages(const std::vector<double>& r, int G, AdvantageMode mode, bool scale_batch,
                                    double eps) {
  if (G < 1 || r.size() % (size_t)G != 0)
    throw InvalidArgument("grpo_advantages: " + std::to_string(r.size()) + " rewards are not whole groups of " +
                          std::to_string(G));
  for (double v : r)
    if (!std::isfinite(v)) throw NumericError("grpo_advantages: a reward is not finite");
  std::vector<double> a(r.size());
  for (size_t g0 = 0; g0 < r.size(); g0 += G) {
    const MeanStd ms = mean_std(&r[g0], (size_t)G);
    const double mean = ms.mean, sd = mode == AdvantageMode::Group ? ms.std : 0.0;
    // A group whose rewards all agree carries no signal: exactly 0 — not c/eps noise, and
    // not the rounding of the mean either (eight rewards of 1.1 average to 1.1 ± 1 ulp,
    // which std + eps would turn into advantages of ~1e-12 that are not 0).
    const auto [lo, hi] = std::minmax_element(r.begin() + g0, r.begin() + g0 + G);
    const bool agree = *hi - *lo <= kRewardTie;
    for (int i = 0; i < G; i++) {
      const double c = r[g0 + i] - mean;
      a[g0 + i] = agree ? 0.0 : mode == AdvantageMode::Group ? (sd > 0 ? c / (sd + eps) : 0.0) : c;
    }
  }
  if (scale_batch) {
    const double sd = mean_std(a).std;
    for (double& v : a) v = sd > 0 ? v / (sd + eps) : 0.0;
  }
  return a;
}

double grpo_token_objective(const std::vector<float>& logp, const std::vector<float>& old_logp,
                            const std::vector<float>* ref_logp, const std::vector<int>& seq,
                            const std::vector<double>& adv, const std::vector<int>& seq_len, int n_seqs,
                            const PolicyLossConfig& cfg, std::vector<float>& dlogp, PolicyLossStats& stats) {
  const size_t N = logp.size();
  if (old_logp.size() != N || seq.size() != N || (ref_logp && ref_logp->size() != N))
    throw InvalidArgument("grpo_token_objective: logp, old_logp, ref_logp and seq differ in length");
  if (cfg.beta > 0 && !ref_logp) throw InvalidArgument("grpo_token_objective: beta > 0 needs reference log-probs");
  if (cfg.agg == LossAgg::SeqMeanTokenSumNorm && cfg.max_len < 1)
    throw InvalidArgument("grpo_token_objective: seq-mean-token-sum-norm needs max_len >= 1");
  dlogp.assign(N, 0.0f);
  double total_tokens = 0;
  for (int s = 0; s < (int)seq_len.size(); s++) total_tokens += seq_len[s];
  double value = 0;
  for (size_t n = 0; n < N; n++) {
    const int s = seq[n];
    if (s < 0) continue;
    if (s >= (int)adv.size() || s >= (int)seq_len.size() || seq_len[s] < 1)
      throw InvalidArgument("grpo_token_objective: position " + std::to_string(n) + " names completion " +
                            std::to_string(s) + ", which has no advantage or no tokens");
    // aggregation weight of one token of completion s
    double w = 0;
    switch (cfg.agg) {
      case LossAgg::SeqMeanTokenMean: w = 1.0 / ((double)n_seqs * seq_len[s]); break;
      case LossAgg::TokenMean: w = 1.0 / total_tokens; break;
      case LossAgg::SeqMeanTokenSumNorm: w = 1.0 / ((double)n_seqs * cfg.max_len); break;
    }
    const double A = adv[s];
    const double log_ratio = std::clamp((double)logp[n] - old_logp[n], -20.0, 20.0);
    const double rho = std::exp(log_ratio);
    const double rho_c = std::clamp(rho, 1.0 - cfg.eps_low, 1.0 + cfg.eps_high);
    const double s1 = rho * A, s2 = rho_c * A;
    // −min(s1, s2): the unclipped branch carries the gradient d(−ρA)/dlogp = −ρA; the
    // clipped one is constant in θ
    double l = 0, dl = 0;
    if (s1 <= s2) { l = -s1; dl = -s1; }
    else { l = -s2; }
    const bool low = rho < 1.0 - cfg.eps_low && A < 0, high = rho > 1.0 + cfg.eps_high && A > 0;
    double k3 = 0, dk3 = 0;
    if (ref_logp) {
      const double delta = std::clamp((double)(*ref_logp)[n] - logp[n], -20.0, 20.0);
      k3 = std::exp(delta) - delta - 1.0;
      dk3 = 1.0 - std::exp(delta);  // d k3 / d logp
    }
    value += w * (l + cfg.beta * k3);
    dlogp[n] = (float)(w * (dl + cfg.beta * dk3));
    stats.policy_loss += w * l;
    stats.kl_sum += k3;
    stats.clip_low += low;
    stats.clip_high += high;
    stats.clip_region += low || high;
    stats.ratio_sum += rho;
    stats.tokens += 1;
  }
  stats.loss += value;
  return value;
}

}  // namespace aha
