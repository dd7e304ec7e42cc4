// GrpoStage (engine/stages.h): generation, rule-based rewards, group advantages and
// clipped-surrogate updates. The maths lives in engine/grpo.cpp; this file is plumbing.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "engine/error.h"
#include "engine/evaluate.h"
#include "engine/generate.h"
#include "engine/grpo.h"
#include "engine/grpo_pack.h"
#include "engine/rewards.h"
#include "engine/stages.h"
#include "engine/tokenizer.h"

namespace aha {
namespace fs = std::filesystem;

namespace {
TrainConfig grpo_train_config(const RunConfig& cfg) {
  TrainConfig t = cfg.train;
  t.lr = cfg.grpo.lr;
  t.min_lr = cfg.grpo.lr;
  t.steps = cfg.grpo.steps;
  t.warmup_steps = cfg.grpo.warmup_steps;
  t.lr_schedule = "constant";
  t.decay_steps = 0;
  t.grad_accum = 1;
  t.head_lr_scale = cfg.grpo.head_lr_scale;
  return t;
}

int task_difficulty(const RunConfig& cfg) {
  if (cfg.grpo.difficulty > 0) return cfg.grpo.difficulty;
  return Curriculum(cfg.curriculum).difficulty(cfg.grpo.task);
}

std::string context_of(const std::string& prompt) { return "<bos>" + prompt + " "; }  // as training saw it
}  // namespace

// One prompt's group: the problem, its G completions and their rewards.
struct GrpoStage::Group {
  Problem problem;
  std::string prompt;
  std::vector<Completion> completions;
  std::vector<RewardBreakdown> rewards;
  bool zero_std = false;
};

GrpoStage::GrpoStage(const RunConfig& cfg, Model& model, kernels::Ops& ops)
    : cfg_(cfg), tc_(grpo_train_config(cfg)), model_(model), ops_(ops), gen_(model, ops), opt_(model.params) {
  const GrpoConfig& g = cfg.grpo;
  const int d = task_difficulty(cfg);
  const Task& task = task_by_name(g.task);
  const int n_train = std::max(cfg.curriculum.rl_problems, g.prompts_per_step);
  problems_ = draw_problems(task, cfg.curriculum.seed ^ 0x6B90ull, n_train, d, false, cfg.curriculum.eval_fraction);
  if (g.eval_problems > 0) {
    // the held-out problems `aha eval --task TASK` scores (the first eval_problems of them),
    // so the curve in the run and a later `aha eval` agree
    CurriculumConfig cc = cfg.curriculum;
    if (g.task == "arithmetic") cc.difficulty_arithmetic = d;
    if (g.task == "countdown") cc.difficulty_countdown = d;
    if (g.task == "linear") cc.difficulty_linear = d;
    cc.eval_problems = std::max(cc.eval_problems, g.eval_problems);
    eval_ = Curriculum(cc).eval(g.task);
    eval_.resize(std::min<size_t>(eval_.size(), (size_t)g.eval_problems));
  }
  spdlog::info("grpo: task {} (difficulty {}), {} RL prompts, {} held-out; {} prompts x {} completions per step",
               g.task, d, problems_.size(), eval_.size(), g.prompts_per_step, g.group_size);
}

GrpoStage::~GrpoStage() = default;

StepReport GrpoStage::step() {
  const GrpoConfig& g = cfg_.grpo;
  const int P = g.prompts_per_step, G = g.group_size;
  const auto t0 = std::chrono::steady_clock::now();
  if (g.beta > 0 && !ref_) {  // the reference is the policy as GRPO starts
    ref_ = std::make_unique<Model>(model_.cfg, ops_);
    ref_->params.weights = model_.params.weights;
  }
  RewardWeights rw;
  rw.accuracy = g.reward_accuracy;
  rw.format = g.reward_format;
  rw.language = g.reward_language;
  rw.target_language = "en";
  rw.tinyzero_countdown = g.tinyzero;
  SamplingConfig sc;
  sc.temperature = g.temperature;
  sc.top_p = g.top_p;
  sc.top_k = g.top_k;
  sc.max_new_tokens = g.max_new_tokens;

  // ---- generation: P groups of G (dynamic sampling drops groups that all agree) ----
  std::vector<Group> groups;
  int dropped = 0;
  int64_t gen_tokens = 0;
  const int64_t max_draws = (int64_t)P * (1 + (g.dynamic_sampling ? g.max_resample : 0));
  int64_t draws = 0;
  while ((int)groups.size() < P && draws < max_draws) {
    // one generation round: every missing group at once, all rows in one decode batch
    const int want = (int)std::min<int64_t>(P - (int64_t)groups.size(), max_draws - draws);
    std::vector<Group> round(want);
    std::vector<std::string> contexts;
    for (Group& gr : round) {
      gr.problem = problems_[(size_t)((drawn_ + (int64_t)contexts.size()) % (int64_t)problems_.size())];
      gr.prompt = r1_prompt(gr.problem.question);
      contexts.push_back(context_of(gr.prompt));
    }
    // prompt i of the round samples from seed + (drawn_ + i)·kPromptSeedStride (sample_batch's rule)
    sc.seed = cfg_.train.seed * 0x9E3779B97F4A7C15ull + (uint64_t)drawn_ * kPromptSeedStride;
    const int base = (int)groups.size() * G;
    std::function<void(int, const std::string&)> sink;
    if (on_token) sink = [&](int row, const std::string& piece) { on_token(base + row, piece); };
    // one model per thread, each decoding a share of the prompts (sample_batch_parallel)
    std::vector<Completion> all = sample_batch_parallel(gen_.models(want), contexts, G, sc, sink);
    drawn_ += want;
    draws += want;
    if ((int64_t)all.size() != (int64_t)want * G)
      throw_internal(__FILE__, __LINE__, "grpo: " + std::to_string(want) + " prompts got " + std::to_string(all.size()) +
                                             " completions, not " + std::to_string(want * G));
    for (int i = 0; i < want; i++) {
      Group& gr = round[i];
      gr.completions.assign(all.begin() + (size_t)i * G, all.begin() + (size_t)(i + 1) * G);
      double lo = INFINITY, hi = -INFINITY;
      for (const Completion& c : gr.completions) {
        gr.rewards.push_back(reward_fn ? reward_fn(gr.problem, c.text) : combined_reward(gr.problem, c.text, rw));
        lo = std::min(lo, gr.rewards.back().total);
        hi = std::max(hi, gr.rewards.back().total);
        gen_tokens += (int64_t)c.tokens.size();
      }
      gr.zero_std = hi - lo <= kRewardTie;
      // dynamic sampling drops a group that carries no signal, unless no draws are left
      if (g.dynamic_sampling && gr.zero_std && draws < max_draws) { dropped++; continue; }
      if ((int)groups.size() < P) groups.push_back(std::move(gr));
    }
  }
  const double gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // ---- advantages ----
  const int S = (int)groups.size() * G;
  std::vector<double> rewards(S);
  for (int i = 0; i < S; i++) rewards[i] = groups[i / G].rewards[i % G].total;
  const std::vector<double> adv = grpo_advantages(rewards, G, advantage_mode_from(g.advantage), g.scale_batch);

  // ---- training batches: completions with their prompts; scored = the completion's tokens ----
  Tokenizer tok;
  std::vector<std::vector<int32_t>> prompt_tokens(groups.size());
  for (size_t gi = 0; gi < groups.size(); gi++) prompt_tokens[gi] = tok.encode(context_of(groups[gi].prompt));
  std::vector<int> seq_len(S, 0);
  for (int i = 0; i < S; i++) {
    const Completion& c = groups[i / G].completions[i % G];
    seq_len[i] = g.mask_truncated && c.truncated ? 0 : (int)c.tokens.size();
  }
  int n_scored = 0;  // completions in the loss (denominators of the aggregation)
  for (int i = 0; i < S; i++) n_scored += seq_len[i] > 0;
  // The policy's entropy over the scored completions' tokens, from the sampler's logits
  // (the same distribution the update's forward would give, up to rounding; it covers the
  // completions the update skips too).
  double entropy_sum = 0, entropy_n = 0;
  for (int i = 0; i < S; i++)
    if (seq_len[i] > 0) {
      entropy_sum += groups[i / G].completions[i % G].entropy;
      entropy_n += seq_len[i];
    }
  // With β = 0 a zero advantage makes every token's loss −min(ρ·0, clip(ρ)·0) = 0 with a
  // zero gradient: such completions stay in the denominators (n_scored, seq_len) but not
  // in the forward/backward. In a step where half the groups agree, that halves the update.
  // A completion masked out of the loss (mask_truncated) has no term at all, whatever β;
  // in both layouts no other completion's tokens attend to it, so it can go too.
  std::vector<int> trained;
  double skipped_tokens = 0;
  for (int i = 0; i < S; i++) {
    if (g.skip_zero_advantage && seq_len[i] == 0) continue;
    if (g.skip_zero_advantage && g.beta == 0 && adv[i] == 0.0) { skipped_tokens += seq_len[i]; continue; }
    trained.push_back(i);
  }

  // micro-batches of micro_batch completions; packed: one row per prompt (engine/grpo_pack.h)
  struct Micro { Batch batch; std::vector<int> seq; std::vector<float> old_logp, ref_logp; };
  std::vector<Micro> micros;
  for (size_t first = 0; first < trained.size(); first += (size_t)g.micro_batch) {
    std::vector<PackItem> items;
    for (size_t j = first; j < std::min(trained.size(), first + (size_t)g.micro_batch); j++) {
      const int i = trained[j];
      items.push_back({i / G, &prompt_tokens[(size_t)(i / G)], &groups[i / G].completions[i % G].tokens, i, seq_len[i] > 0});
    }
    Micro m;
    m.batch = g.pack_prompts ? pack_rows(items, m.seq) : plain_rows(items, m.seq);
    micros.push_back(std::move(m));
  }

  PolicyLossConfig pl;
  pl.eps_low = g.epsilon_low;
  pl.eps_high = g.epsilon_high;
  pl.beta = g.beta;
  pl.agg = loss_agg_from(g.loss_agg);
  pl.max_len = g.max_new_tokens;
  if (n_scored > 0) {
    for (Micro& m : micros) {
      if (ref_) ref_->token_logprobs(m.batch, m.ref_logp);
    }
  }

  // ---- μ policy updates ----
  PolicyLossStats stats;
  double gnorm = 0, train_tokens = 0;
  const double lr = learning_rate(tc_, (int)state_.step);
  const auto t1 = std::chrono::steady_clock::now();
  // the step's expert loads, summed over its μ updates (the bias update zeroes the model's)
  std::vector<Model::MoeLayerState> moe = model_.moe_state();
  for (auto& st : moe) st.load.assign(st.load.size(), 0);
  for (int u = 0; u < g.updates_per_batch && n_scored > 0; u++) {
    model_.zero_grad();
    for (Micro& m : micros) {
      const Model::TokenObjective obj = [&](const std::vector<float>& logp, std::vector<float>& dlogp) {
        // the first update runs on the weights that sampled (π_old = π, ratio ≡ 1, TRL's
        // logp.detach()); its log-probabilities are π_old for the later updates
        if (u == 0 && g.updates_per_batch > 1) m.old_logp = logp;
        const std::vector<float>& old = u == 0 ? logp : m.old_logp;
        return grpo_token_objective(logp, old, ref_ ? &m.ref_logp : nullptr, m.seq, adv, seq_len, n_scored, pl, dlogp,
                                    stats);
      };
      model_.forward_backward_objective(m.batch, obj, 1.0f);
      // completion tokens trained on (the same count packed or not; a packed row's prompt
      // and padding are not counted)
      train_tokens += (double)std::count_if(m.seq.begin(), m.seq.end(), [](int q) { return q >= 0; });
    }
    gnorm = opt_.step(ops_, model_.params, tc_, lr);  // NumericError on a non-finite gradient: weights kept
    const auto now = model_.moe_state();
    for (size_t l = 0; l < moe.size() && l < now.size(); l++)
      for (size_t e = 0; e < moe[l].load.size(); e++) moe[l].load[e] += now[l].load[e];
    model_.update_router_bias();
  }
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  state_.step++;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // ---- metrics (TRL's names where they exist) and traces ----
  StepReport rep;
  auto& mt = rep.metrics;
  const MeanStd rms = mean_std(rewards);
  mt["reward"] = rms.mean;
  mt["reward_std"] = rms.std;
  std::map<std::string, std::vector<double>> parts;
  double correct = 0, formatted = 0, lmin = 1e18, lmax = 0, lsum = 0, truncated = 0, mixed = 0, switched = 0, aha = 0, zero_std = 0;
  int64_t group_base = (state_.step - 1) * P;
  for (int i = 0; i < S; i++) {
    const Group& gr = groups[i / G];
    const Completion& c = gr.completions[i % G];
    const RewardBreakdown& rb = gr.rewards[i % G];
    for (const auto& [k, v] : rb.parts) parts[k].push_back(v.value);
    // accuracy and format as combined_reward scored them (computed here only when the
    // reward was TinyZero's or a custom one)
    const auto part = [&](const char* k, const auto& compute) {
      const auto it = rb.parts.find(k);
      return it != rb.parts.end() ? it->second.value : compute().value;
    };
    const double acc = part("accuracy", [&] { return accuracy_reward(gr.problem, c.text); });
    const double fmt = part("format", [&] { return format_reward(c.text); });
    correct += acc > 0.5;
    formatted += fmt > 0.5;
    const double len = (double)c.tokens.size();
    lmin = std::min(lmin, len);
    lmax = std::max(lmax, len);
    lsum += len;
    truncated += c.truncated;
    const ParsedCompletion pc = parse_completion(c.text);
    const LanguageMix mix = language_mix(pc.think.empty() ? c.text : pc.think);
    mixed += mix.off_target("en");
    switched += mix.mixed;
    const auto spans = aha_spans(c.text);
    aha += !spans.empty();
    TraceRecord t;
    t.step = state_.step;
    t.stage = "grpo";
    t.split = "train";
    t.prompt = gr.prompt;
    t.completion = c.text;
    t.group_id = group_base + i / G;
    t.rewards = {{"total", rb.total}, {"accuracy", acc}, {"format", fmt}};
    for (const auto& [k, v] : rb.parts) t.rewards[k] = v.value;
    t.advantage = adv[i];
    t.aha_spans_json = aha_spans_json(spans);
    t.language_share = mix.latin_share;
    t.truncated = c.truncated;
    rep.traces.push_back(std::move(t));
  }
  for (const Group& gr : groups) zero_std += gr.zero_std;
  for (const auto& [k, v] : parts) {
    const MeanStd ms = mean_std(v);
    mt["rewards/" + k + "/mean"] = ms.mean;
    mt["rewards/" + k + "/std"] = ms.std;
  }
  mt["accuracy"] = correct / S;
  mt["format_rate"] = formatted / S;
  mt["frac_reward_zero_std"] = zero_std / groups.size();
  mt["dynamic_sampling/dropped_groups"] = dropped;
  mt["completions/mean_length"] = lsum / S;
  mt["completions/min_length"] = lmin;
  mt["completions/max_length"] = lmax;
  mt["completions/clipped_ratio"] = truncated / S;
  mt["completions/trained_ratio"] = (double)trained.size() / S;  // in the update's forward/backward
  mt["language_mix_rate"] = mixed / S;  // reasoning not purely English
  mt["code_switch_rate"] = switched / S;
  mt["aha_rate"] = aha / S;
  const double ntok = std::max(1.0, stats.tokens);
  if (g.beta > 0) mt["kl"] = stats.kl_sum / ntok;
  mt["entropy"] = entropy_n > 0 ? entropy_sum / entropy_n : 0.0;
  // clip ratios over every scored token: a skipped one (A = 0) is never clipped
  // (TRL counts low only with A < 0, high only with A > 0)
  const double nclip = std::max(1.0, stats.tokens + skipped_tokens * g.updates_per_batch);
  mt["clip_ratio/low_mean"] = stats.clip_low / nclip;
  mt["clip_ratio/high_mean"] = stats.clip_high / nclip;
  mt["clip_ratio/region_mean"] = stats.clip_region / nclip;
  mt["importance_ratio/mean"] = stats.ratio_sum / ntok;  // over the tokens trained on; ≡ 1 when μ = 1
  mt["policy_loss"] = stats.policy_loss / std::max(1, g.updates_per_batch);
  mt["loss"] = stats.loss / std::max(1, g.updates_per_batch);
  mt["grad_norm"] = gnorm;
  mt["lr"] = lr;
  mt["step_ms"] = s * 1e3;
  mt["generation_tokens_per_s"] = gen_s > 0 ? gen_tokens / gen_s : 0.0;
  mt["training_tokens_per_s"] = train_s > 0 ? train_tokens / train_s : 0.0;
  mt["tokens_per_s"] = s > 0 ? (gen_tokens + train_tokens) / s : 0.0;
  const auto biased = model_.moe_state();  // the biases after this step's updates
  // (the MTP module does not run in GRPO's objective: its layer is not reported; a step
  // whose update ran no forward — every group agreed, skip_zero_advantage — routed no
  // token and records no loads)
  if (!micros.empty() && n_scored > 0)
    for (size_t l = 0; l < moe.size(); l++)
      if (moe[l].layer < model_.cfg.num_hidden_layers)
        rep.moe.push_back({moe[l].layer, std::move(moe[l].load), l < biased.size() ? biased[l].bias : moe[l].bias});
  tokens_seen_ += gen_tokens;
  rep.tokens = tokens_seen_;
  add_fp8_stats(model_, rep);
  return rep;
}

std::map<std::string, double> GrpoStage::evaluate() {
  if (eval_.empty()) return {};
  SamplingConfig greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = cfg_.grpo.max_new_tokens;
  EvalResult r = evaluate_task(model_, eval_, cfg_.grpo.task, 1, greedy);
  eval_traces_ = std::move(r.traces);  // the held-out answers, for the trace inspector
  return r.metrics();
}

void GrpoStage::save(const std::string& dir) {
  state_.rng[0] = (uint64_t)drawn_;  // the prompt cursor (the stage draws nothing else at random)
  state_.rng[1] = (uint64_t)tokens_seen_;
  save_checkpoint(dir, cfg_, model_, &opt_, &state_);
  if (ref_) {  // the reference, once, beside the checkpoints: a resumed stage needs the same one
    const fs::path refdir = fs::path(dir).parent_path() / "grpo_reference";
    if (!fs::exists(refdir / "model.safetensors")) save_checkpoint(refdir.string(), cfg_, *ref_);
  }
}

void GrpoStage::restore(const std::string& dir) {
  load_weights(dir, model_);
  load_optimizer(dir, model_, opt_, state_);
  drawn_ = (int64_t)state_.rng[0];
  tokens_seen_ = (int64_t)state_.rng[1];
  if (cfg_.grpo.beta > 0) {
    const fs::path refdir = fs::path(dir).parent_path() / "grpo_reference";
    if (!fs::exists(refdir / "model.safetensors"))
      throw FormatError("resume: grpo.beta > 0 needs the reference weights GRPO started from, expected in '" +
                        refdir.string() + "'");
    ref_ = std::make_unique<Model>(model_.cfg, ops_);
    load_weights(refdir.string(), *ref_);
  }
}

}  // namespace aha
