#include "engine/stages.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "engine/evaluate.h"
#include "engine/tokenizer.h"

namespace aha {

// ---- PretrainStage ----------------------------------------------------------------

PretrainStage::PretrainStage(const RunConfig& cfg, Model& model, kernels::Ops& ops, double peak_gflops)
    : cfg_(cfg), model_(model), dp_(model, ops), ops_(ops), opt_(model.params), rng_(cfg.train.seed ^ 0xDA7Aull),
      corpus_(load_corpus(cfg)), peak_gflops_(peak_gflops) {
  spdlog::info("pretrain data: {} ({} training tokens, {} held out)", corpus_.description,
               corpus_.train.size(), corpus_.eval.size());
  // worked problems to answer only when the model learns the curriculum's format
  if (cfg.data.source == "curriculum") showcase_ = showcase_problems(cfg);
}

void add_fp8_stats(Model& model, StepReport& rep) {
  const auto [fp32_bytes, cache_bytes] = model.take_cache_bytes();
  if (cache_bytes > 0) {
    rep.metrics["precision/activation_cache_mb"] = cache_bytes / 1e6;
    rep.metrics["precision/activation_cache_fp32_mb"] = fp32_bytes / 1e6;
  }
  const auto stats = model.take_fp8_stats();
  if (stats.empty()) return;
  double amax = 0, underflow = 0, overflow = 0;
  for (const auto& s : stats) {
    rep.fp8.push_back({s.layer, s.tensor, s.amax, s.underflow, s.overflow});
    amax = std::max(amax, s.amax);
    underflow += s.underflow / (double)stats.size();
    overflow = std::max(overflow, s.overflow);
  }
  rep.metrics["fp8/amax_max"] = amax;
  rep.metrics["fp8/underflow_mean"] = underflow;
  rep.metrics["fp8/overflow_max"] = overflow;
}

std::vector<Example> showcase_problems(const RunConfig& cfg) {
  std::vector<Example> out;
  const int n = cfg.train.eval_samples;
  if (n <= 0) return out;
  const CurriculumConfig& c = cfg.curriculum;
  std::vector<std::string> tasks;
  if (c.weight_arithmetic > 0) tasks.push_back("arithmetic");
  if (c.weight_countdown > 0) tasks.push_back("countdown");
  if (c.weight_linear > 0) tasks.push_back("linear");
  if (tasks.empty()) return out;
  const Curriculum cur(c);
  std::vector<std::vector<Example>> sets;
  for (const auto& t : tasks) sets.push_back(cur.eval(t));
  for (int i = 0; (int)out.size() < n; i++) {
    const auto& set = sets[i % sets.size()];
    const size_t j = i / sets.size();
    if (j >= set.size()) break;
    out.push_back(set[j]);
  }
  return out;
}

StepReport PretrainStage::step() {
  const TrainConfig& t = cfg_.train;
  const auto t0 = std::chrono::steady_clock::now();
  LossParts sum;
  sum.mtp.assign(cfg_.model.num_nextn_predict_layers, 0.0);
  for (int a = 0; a < t.grad_accum; a++) {
    sample_batch(corpus_.train, t.batch_size, t.seq_len, rng_, batch_);
    LossParts lp = dp_.forward_backward(batch_, 1.0f / t.grad_accum, /*zero_grads=*/a == 0);
    sum.total += lp.total / t.grad_accum;
    sum.lm += lp.lm / t.grad_accum;
    sum.balance += lp.balance / t.grad_accum;
    for (size_t k = 0; k < lp.mtp.size(); k++) sum.mtp[k] += lp.mtp[k] / t.grad_accum;
  }
  const double lr = learning_rate(t, (int)state_.step);
  const double gnorm = opt_.step(ops_, model_.params, t, lr);
  // expert imbalance of this step (max load / mean load, averaged over MoE layers)
  double imb = 0.0;
  const auto loads = model_.expert_load();
  for (const auto& l : loads) {
    double mx = 0, mean = 0;
    for (int64_t v : l) { mx = std::max(mx, (double)v); mean += (double)v / l.size(); }
    imb += mean > 0 ? mx / mean / loads.size() : 0.0;
  }
  StepReport rep;
  for (auto& st : model_.moe_state()) rep.moe.push_back({st.layer, std::move(st.load), std::move(st.bias)});
  model_.update_router_bias();
  state_.step++;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double step_tokens = (double)t.grad_accum * t.batch_size * t.seq_len;
  const double tps = step_tokens / s;
  rep.tokens = state_.step * (int64_t)step_tokens;
  auto& m = rep.metrics;
  m = {{"loss", sum.total}, {"lm_loss", sum.lm}, {"balance_loss", sum.balance}, {"lr", lr},
       {"grad_norm", gnorm}, {"step_ms", s * 1e3}, {"tokens_per_s", tps}};
  if (peak_gflops_ > 0) m["mfu"] = tps * model_.flops_per_token(t.seq_len) / 1e9 / peak_gflops_;
  if (!loads.empty()) m["expert_imbalance"] = imb;
  for (size_t k = 0; k < sum.mtp.size(); k++) m["mtp_loss_" + std::to_string(k + 1)] = sum.mtp[k];
  add_fp8_stats(model_, rep);
  return rep;
}

std::map<std::string, double> PretrainStage::evaluate() {
  const TrainConfig& t = cfg_.train;
  double loss = 0.0;
  const int batches = 2;
  Batch b;
  for (int i = 0; i < batches; i++) {
    eval_batch(corpus_.eval, t.batch_size, t.seq_len, i, b);
    loss += model_.forward_loss(b).lm / batches;
  }
  // evaluation forwards must not count as routed load for the bias update
  model_.reset_expert_load();
  if (!showcase_.empty()) eval_traces_ = showcase_traces(model_, showcase_, cfg_.grpo.max_new_tokens, on_token);
  return {{"eval_loss", loss}};
}

void PretrainStage::save(const std::string& dir) {
  rng_.get_state(state_.rng);
  save_checkpoint(dir, cfg_, model_, &opt_, &state_);
}

void PretrainStage::restore(const std::string& dir) {
  load_weights(dir, model_);
  load_optimizer(dir, model_, opt_, state_);
  rng_.set_state(state_.rng);
}

// ---- SftStage -----------------------------------------------------------------------

namespace {
TrainConfig sft_train_config(const RunConfig& cfg) {
  TrainConfig t = cfg.train;
  t.lr = cfg.sft.lr;
  t.min_lr = cfg.sft.lr * 0.1;
  t.steps = cfg.sft.steps;
  t.decay_steps = 0;  // pretraining's decay step means nothing here: decay over SFT's steps
  t.warmup_steps = std::min(20, std::max(1, cfg.sft.steps / 10));
  t.batch_size = cfg.sft.batch_size;
  t.seq_len = cfg.sft.seq_len;
  t.grad_accum = 1;
  return t;
}
}  // namespace

SftStage::SftStage(const RunConfig& cfg, Model& model, kernels::Ops& ops, double peak_gflops)
    : cfg_(cfg), tc_(sft_train_config(cfg)), model_(model), dp_(model, ops), ops_(ops), opt_(model.params),
      rng_(cfg.train.seed ^ 0x5F7ull), peak_gflops_(peak_gflops) {
  std::vector<Example> ex;
  if (cfg.sft.source == "curriculum") {
    Curriculum cur(cfg.curriculum);
    for (int i = 0; i < cfg.curriculum.sft_problems; i++) ex.push_back(cur.sft(i));
  } else {
    ex = read_examples(cfg.sft.source);
  }
  Tokenizer tok;
  const size_t n_eval = std::max<size_t>(1, ex.size() / 20);
  if (ex.size() < 2 * n_eval || ex.size() < 2)
    throw ConfigError("sft.source: '" + cfg.sft.source + "' has " + std::to_string(ex.size()) +
                      " examples; SFT needs at least 2");
  for (size_t i = 0; i < ex.size(); i++) {
    if (ex[i].completion.empty())
      throw FormatError("sft.source: example " + std::to_string(i + 1) + " of '" + cfg.sft.source + "' has no completion");
    std::vector<int32_t> t = tok.encode("<bos>" + ex[i].prompt + " ");
    const int plen = (int)t.size();
    const std::vector<int32_t> c = tok.encode(ex[i].completion + "<eos>");
    t.insert(t.end(), c.begin(), c.end());
    if ((int)t.size() > tc_.seq_len + 1) truncated_++;
    auto& set = i < ex.size() - n_eval ? train_ : eval_;
    auto& pl = i < ex.size() - n_eval ? train_prompt_ : eval_prompt_;
    set.push_back(std::move(t));
    pl.push_back(plen);
  }
  spdlog::info("sft data: {} training and {} held-out examples from {}; {} longer than sft.seq_len + 1 (cut)",
               train_.size(), eval_.size(), cfg.sft.source, truncated_);
  showcase_ = showcase_problems(cfg);
}

const std::vector<int>& SftStage::order(int64_t epoch) {
  if (epoch != order_epoch_) {
    order_.resize(train_.size());
    std::iota(order_.begin(), order_.end(), 0);
    Rng r(cfg_.train.seed * 0x9E3779B97F4A7C15ull + (uint64_t)epoch);
    for (size_t i = order_.size() - 1; i > 0; i--) std::swap(order_[i], order_[r.below(i + 1)]);  // Fisher-Yates
    order_epoch_ = epoch;
  }
  return order_;
}

void SftStage::fill(const std::vector<std::vector<int32_t>>& set, const std::vector<int>& prompt_len, int64_t first) {
  const int B = tc_.batch_size, T = tc_.seq_len;
  batch_.B = B;
  batch_.T = T;
  batch_.inputs.assign((size_t)B * T, Tokenizer::kPad);
  batch_.targets.assign((size_t)B * T, -1);
  batch_.mask.assign((size_t)B * T, 0.0f);
  for (int b = 0; b < B; b++) {
    const int64_t item = first + b, n_set = (int64_t)set.size();
    const size_t idx = &set == &train_ ? (size_t)order(item / n_set)[item % n_set] : (size_t)(item % n_set);
    const auto& seq = set[idx];
    const int n = std::min<int>(T, (int)seq.size() - 1);
    for (int t = 0; t < n; t++) {
      batch_.inputs[(size_t)b * T + t] = seq[t];
      batch_.targets[(size_t)b * T + t] = seq[t + 1];
      // target t + 1 is a completion token when it lies at or after the prompt's end
      batch_.mask[(size_t)b * T + t] = t + 1 >= prompt_len[idx] ? 1.0f : 0.0f;
    }
  }
}

StepReport SftStage::step() {
  const auto t0 = std::chrono::steady_clock::now();
  const int B = tc_.batch_size;
  fill(train_, train_prompt_, state_.step * B);
  LossParts lp = dp_.forward_backward(batch_, 1.0f, /*zero_grads=*/true);
  const double lr = learning_rate(tc_, (int)state_.step);
  const double gnorm = opt_.step(ops_, model_.params, tc_, lr);
  StepReport rep;
  for (auto& st : model_.moe_state()) rep.moe.push_back({st.layer, std::move(st.load), std::move(st.bias)});
  model_.update_router_bias();
  state_.step++;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.tokens = state_.step * (int64_t)B * tc_.seq_len;
  rep.metrics = {{"loss", lp.total}, {"lm_loss", lp.lm}, {"balance_loss", lp.balance}, {"lr", lr},
                 {"grad_norm", gnorm}, {"step_ms", s * 1e3}, {"tokens_per_s", B * tc_.seq_len / s},
                 {"scored_tokens", lp.scored_tokens}};
  if (peak_gflops_ > 0) rep.metrics["mfu"] = B * tc_.seq_len / s * model_.flops_per_token(tc_.seq_len) / 1e9 / peak_gflops_;
  for (size_t k = 0; k < lp.mtp.size(); k++) rep.metrics["mtp_loss_" + std::to_string(k + 1)] = lp.mtp[k];
  add_fp8_stats(model_, rep);
  return rep;
}

std::map<std::string, double> SftStage::evaluate() {
  double loss = 0, tokens = 0;
  for (int64_t first = 0; first < (int64_t)std::min<size_t>(eval_.size(), 4 * (size_t)tc_.batch_size); first += tc_.batch_size) {
    fill(eval_, eval_prompt_, first);
    LossParts lp = model_.forward_loss(batch_);
    loss += lp.lm * lp.scored_tokens;
    tokens += lp.scored_tokens;
  }
  model_.reset_expert_load();
  if (!showcase_.empty()) eval_traces_ = showcase_traces(model_, showcase_, cfg_.grpo.max_new_tokens, on_token);
  return {{"eval_loss", tokens > 0 ? loss / tokens : 0.0}};
}

void SftStage::save(const std::string& dir) {
  rng_.get_state(state_.rng);
  save_checkpoint(dir, cfg_, model_, &opt_, &state_);
}

void SftStage::restore(const std::string& dir) {
  load_weights(dir, model_);
  load_optimizer(dir, model_, opt_, state_);
  rng_.set_state(state_.rng);
}

}  // namespace aha
