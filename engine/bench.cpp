#include "engine/bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/curriculum.h"
#include "engine/error.h"
#include "engine/generate.h"
#include "engine/run.h"
#include "engine/store.h"
#include "engine/tokenizer.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/profiling.h"

namespace aha {

std::string TrainBench::to_json() const {
  nlohmann::json j;
  j["tokens_per_s"] = tokens_per_s;
  j["step_ms"] = step_ms_median;
  j["batch_size"] = batch_size;
  j["seq_len"] = seq_len;
  j["flops_per_token"] = flops_per_token;
  j["achieved_gflops"] = achieved_gflops;
  j["peak_gflops"] = peak_gflops;
  j["peak_probe_gflops"] = peak_probe_gflops;
  j["mfu"] = mfu;
  j["params_total"] = params_total;
  j["params_active"] = params_active;
  j["peak_rss_mb"] = peak_rss_mb;
  j["precision"] = precision;
  j["activation_stash_mb"] = stash_mb;
  j["activation_stash_fp32_mb"] = stash_fp32_mb;
  j["steps"] = steps;
  j["threads"] = threads;
  j["simd"] = simd;
  j["cpu"] = cpu;
  return j.dump();
}

TrainBench bench_train(const RunConfig& cfg_in, int steps, const std::string& peak_cache,
                       bool profile, const std::string& record_dir) {
  RunConfig cfg = cfg_in;
  cfg.train.steps = steps + 2;
  cfg.train.warmup_steps = std::min(cfg.train.warmup_steps, cfg.train.steps);
  if (cfg.train.threads > 0) omp_set_num_threads(cfg.train.threads);
  kernels::ProfilingOps prof(kernels::cpu_ops());
  kernels::Ops& ops = profile ? (kernels::Ops&)prof : kernels::cpu_ops();
  Model model(cfg.model, ops);
  model.init_weights(cfg.train.seed);
  model.set_precision(cfg.train.precision, cfg.train.fp8_pow2_scales);
  PretrainStage stage(cfg, model, ops);
  std::unique_ptr<RunStoreWriter> store;
  if (!record_dir.empty()) {
    RunInfo info;
    info.name = cfg.name;
    info.config_toml = to_toml(cfg);
    info.version = "aha 0.1.0 (bench)";
    store = RunStoreWriter::create(record_dir, info);
  }
  // The FMA peak is probed before and after the timed steps and the higher reading kept
  // (with the best ever seen for this CPU, kernels/cpu/cpu_features.h): on a freshly
  // started VM the first probe once read 142.8 GFLOP/s where later ones read 202-203,
  // which made that run's MFU 0.65 instead of about 0.46.
  double probe_before = 0, probe_after = 0;
  const double peak_before = kernels::measure_peak_gflops(peak_cache, &probe_before);
  std::vector<double> ms;
  double stash_mb = 0, stash_fp32_mb = 0;
  const auto t_start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps + 2; i++) {
    if (i == 2) prof.reset();
    const auto t0 = std::chrono::steady_clock::now();
    StepReport rep = stage.step();
    if (auto it = rep.metrics.find("precision/activation_cache_mb"); it != rep.metrics.end()) stash_mb = it->second;
    if (auto it = rep.metrics.find("precision/activation_cache_fp32_mb"); it != rep.metrics.end()) stash_fp32_mb = it->second;
    if (store) {  // what Run::body does per step
      const double wall = std::chrono::duration<double>(t0 - t_start).count();
      store->metrics(stage.name(), stage.steps_done(), wall, rep.tokens, rep.metrics);
      store->moe(stage.name(), stage.steps_done(), rep.moe);
    }
    // the step's wall time including the recording calls
    if (i >= 2) ms.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3);
  }
  if (store) store->finish("finished");
  std::sort(ms.begin(), ms.end());
  TrainBench r;
  const auto f = kernels::cpu_features();
  r.step_ms_median = ms[ms.size() / 2];
  r.precision = cfg.train.precision;
  r.stash_mb = stash_mb;
  r.stash_fp32_mb = stash_fp32_mb;
  r.batch_size = cfg.train.batch_size * cfg.train.grad_accum;
  r.seq_len = cfg.train.seq_len;
  r.steps = steps;
  r.threads = f.threads;
  r.simd = f.simd();
  r.cpu = f.model;
  r.tokens_per_s = (double)r.batch_size * r.seq_len / (r.step_ms_median / 1e3);
  r.flops_per_token = model.flops_per_token(cfg.train.seq_len);
  r.achieved_gflops = r.flops_per_token * r.tokens_per_s / 1e9;
  r.peak_gflops = std::max(peak_before, kernels::measure_peak_gflops(peak_cache, &probe_after));
  r.peak_probe_gflops = std::max(probe_before, probe_after);
  r.mfu = r.achieved_gflops / r.peak_gflops;
  r.params_total = model.params_total();
  r.params_active = model.params_active();
  if (profile) {
    std::vector<std::pair<std::string, kernels::OpTime>> rows(prof.table().begin(), prof.table().end());
    std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (auto& r2 : rows) total += r2.second.seconds;
    char line[256];
    std::snprintf(line, sizeof line, "%-40s %9s %7s %8s %9s\n", "op", "ms/step", "share", "calls", "GFLOP/s");
    r.profile += line;
    for (auto& [k, t] : rows) {
      std::snprintf(line, sizeof line, "%-40s %9.2f %6.1f%% %8ld %9.1f\n", k.c_str(), t.seconds * 1e3 / steps,
                    100 * t.seconds / total, t.calls / steps, t.flops > 0 ? t.flops / t.seconds / 1e9 : 0.0);
      r.profile += line;
    }
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  r.peak_rss_mb = ru.ru_maxrss / 1024.0;
  return r;
}

}  // namespace aha

namespace aha {

std::string StoreBench::to_json() const {
  nlohmann::json j;
  j["points_per_s"] = points_per_s;
  j["traces_per_s"] = traces_per_s;
  j["points"] = points;
  j["traces"] = traces;
  j["db_mb"] = db_mb;
  j["series_points"] = series_points;
  j["decimate_full_ms"] = decimate_full_ms;
  j["decimate_zoom_ms"] = decimate_zoom_ms;
  return j.dump();
}

StoreBench bench_store(const std::string& dir, int64_t points, int64_t traces, int series) {
  namespace fs = std::filesystem;
  StoreBench r;
  RunInfo info;
  info.name = "bench-store";
  info.version = "aha 0.1.0 (bench)";
  {
    auto w = RunStoreWriter::create(dir, info);
    std::vector<std::string> names;
    for (int i = 0; i < series; i++) names.push_back("series_" + std::to_string(i));
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t step = 1; r.points < points; step++) {
      std::map<std::string, double> m;
      for (int i = 0; i < series; i++) m[names[i]] = std::sin(0.001 * step + i);
      w->metrics("pretrain", step, step * 0.1, step * 2048, m);
      r.points += series;
    }
    w->flush();
    r.points_per_s = r.points / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // traces shaped like GRPO completions: a prompt, ~600 bytes of reasoning, rewards
    const std::string reasoning =
        "<think>We need 17 * 23. 17 * 20 = 340 and 17 * 3 = 51, so 340 + 51 = 391. Wait, let me recheck: "
        "17 * 23 = 17 * 25 - 17 * 2 = 425 - 34 = 391. Yes.</think> <answer>391</answer>";
    std::string completion;
    while (completion.size() < 600) completion += reasoning + " ";
    const auto t1 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < traces; i++) {
      TraceRecord t;
      t.step = i / 64;
      t.stage = "grpo";
      t.prompt = "Compute 17 * 23. Show your reasoning. #" + std::to_string(i);
      t.completion = completion;
      t.group_id = i / 8;
      t.rewards = {{"accuracy", 1.0}, {"format", 1.0}, {"language", 0.98}};
      t.advantage = 0.25;
      w->trace(t);
      r.traces++;
    }
    w->flush();
    r.traces_per_s = r.traces / std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    w->finish("finished");
  }
  std::error_code ec;
  r.db_mb = (double)fs::file_size(fs::path(dir) / store_file_name(), ec) / 1e6;
  if (series > 0 && r.points > 0) {
    const RunStoreReader reader = RunStoreReader::open_checked(dir, false, false);
    r.series_points = r.points / series;
    const double last = (double)r.series_points;
    auto median_ms = [&](double x0, double x1) {
      std::vector<double> ms;
      for (int i = 0; i < 5; i++) {
        const auto t = std::chrono::steady_clock::now();
        const auto b = reader.decimate("series_0", "step", x0, x1, 1200);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
        AHA_CHECK(!b.empty(), "decimation returned no buckets");
      }
      std::sort(ms.begin(), ms.end());
      return ms[2];
    };
    r.decimate_full_ms = median_ms(1, last);
    r.decimate_zoom_ms = median_ms(last * 0.5, last * 0.51);
  }
  return r;
}

}  // namespace aha

namespace aha {

std::string DecodeBench::to_json() const {
  nlohmann::json j;
  j["tokens_per_s_absorbed"] = tokens_per_s_absorbed;
  j["tokens_per_s_naive"] = tokens_per_s_naive;
  j["speedup"] = speedup;
  j["kv_bytes_per_token_mla"] = kv_bytes_per_token_mla;
  j["kv_bytes_per_token_mha"] = kv_bytes_per_token_mha;
  j["context"] = context;
  j["batch"] = batch;
  j["new_tokens"] = new_tokens;
  j["threads"] = threads;
  if (mtp) {
    j["mtp_acceptance"] = mtp_acceptance;
    j["mtp_speedup"] = mtp_speedup;
    j["mtp_speedup_end_to_end"] = mtp_speedup_end_to_end;
    j["tokens_per_s_greedy"] = tokens_per_s_greedy;
    j["tokens_per_s_speculative"] = tokens_per_s_speculative;
    j["ms_main_pass_1_token"] = ms_main_1;
    j["ms_main_pass_2_tokens"] = ms_main_2;
    j["ms_main_pass_verify"] = ms_main_verify;
    j["draft_tokens"] = draft_tokens;
    std::vector<double> at;
    for (int k = 0; k < draft_tokens; k++)
      at.push_back(mtp_drafted_at[k] > 0 ? (double)mtp_accepted_at[k] / mtp_drafted_at[k] : 0.0);
    j["mtp_acceptance_at"] = at;
    j["mtp_drafted_at"] = mtp_drafted_at;
    j["mtp_accepted_at"] = mtp_accepted_at;
    j["ms_mtp_pass_1_token"] = ms_mtp_1;
    j["ms_mtp_pass_2_tokens"] = ms_mtp_2;
    j["ms_mtp_prompt_pass"] = ms_mtp_prompt;
    j["ms_prefill"] = ms_prefill;
    j["mtp_drafted"] = mtp_drafted;
    j["mtp_accepted"] = mtp_accepted;
    j["mtp_tokens"] = mtp_tokens;
    j["mtp_same_tokens"] = mtp_same_tokens;
    j["mtp_prompt"] = mtp_prompt;
    j["mtp_context"] = mtp_context;
  }
  return j.dump();
}

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int32_t argmax(const float* logits, int V) { return (int32_t)(std::max_element(logits, logits + V) - logits); }

constexpr int kReps = 3;  // timings are the best of kReps: a shared machine's noise only slows

// Tokens/s of `steps` greedy decoding steps of `batch` rows after a prefill of ctx.
double time_decode(Model& m, const std::vector<int32_t>& ctx, int batch, int steps, AttnPath path) {
  const int N = (int)ctx.size(), V = m.cfg.vocab_size;
  std::vector<int32_t> next(batch, ctx.back());
  std::vector<float> logits;
  {  // warm-up on a throwaway cache: the first call of each GEMM shape pays for its setup
    Model::DecodeCache warm = m.new_cache(batch, 2, path);
    m.decode_step(warm, next.data(), logits);
    m.decode_step(warm, next.data(), logits);
  }
  Model::DecodeCache cache = m.new_cache(batch, N + steps, path);
  cache.T = N;
  m.prefill(cache, 0, batch, ctx.data(), N, logits);
  const int32_t first = argmax(logits.data() + (size_t)(N - 1) * V, V);
  double best = 1e300;
  for (int rep = 0; rep < kReps; rep++) {
    cache.T = N;  // back to the prefilled context: the decoded slots are overwritten
    std::fill(next.begin(), next.end(), first);
    const auto t0 = Clock::now();
    for (int s = 0; s < steps; s++) {
      m.decode_step(cache, next.data(), logits);
      for (int b = 0; b < batch; b++) next[b] = argmax(logits.data() + (size_t)b * V, V);
    }
    best = std::min(best, seconds_since(t0));
  }
  return (double)batch * steps / best;
}
}  // namespace

DecodeBench bench_decode(Model& m, const RunConfig& cfg, int context, int batch, int new_tokens, bool mtp,
                         int draft_tokens) {
  const ModelConfig& c = m.cfg;
  if (context < 1 || batch < 1 || new_tokens < 1)
    throw InvalidArgument("bench decode: context, batch and new tokens must each be >= 1");
  if (context + new_tokens > c.max_position_embeddings)
    throw InvalidArgument("bench decode: context (" + std::to_string(context) + ") + new tokens (" +
                          std::to_string(new_tokens) + ") exceed the model's max_position_embeddings (" +
                          std::to_string(c.max_position_embeddings) + ")");
  if (mtp && c.num_nextn_predict_layers < 1)
    throw InvalidArgument("bench decode: --mtp needs a model with an MTP module (num_nextn_predict_layers = 0)");
  DecodeBench r;
  r.context = context;
  r.batch = batch;
  r.new_tokens = new_tokens;
  r.threads = omp_get_max_threads();
  r.mtp = mtp;
  if (mtp) {  // checked before the timings below, which take seconds
    check_draft_tokens(draft_tokens, "bench decode: --draft");
    r.draft_tokens = draft_tokens;
    r.mtp_drafted_at.assign(draft_tokens, 0);
    r.mtp_accepted_at.assign(draft_tokens, 0);
  }
  r.kv_bytes_per_token_mla = m.kv_bytes_per_token(true);
  r.kv_bytes_per_token_mha = m.kv_bytes_per_token(false);

  // the context: curriculum documents, encoded one after another, cut at `context` tokens
  const Curriculum cur(cfg.curriculum);
  const Tokenizer tok;
  std::vector<int32_t> ctx;
  for (int64_t i = 0; (int)ctx.size() < context; i++) {
    const std::vector<int32_t> t = tok.encode(Curriculum::document(cur.pretrain(i)));
    ctx.insert(ctx.end(), t.begin(), t.end());
  }
  ctx.resize(context);
  r.tokens_per_s_absorbed = time_decode(m, ctx, batch, new_tokens, AttnPath::Absorbed);
  r.tokens_per_s_naive = time_decode(m, ctx, batch, new_tokens, AttnPath::Naive);
  r.speedup = r.tokens_per_s_absorbed / r.tokens_per_s_naive;
  if (!mtp) return r;

  // greedy answers to arithmetic prompts, plain and speculative
  // the context before each question: whole pretraining documents (a few-shot prefix, as in
  // pretraining's packed sequences), encoded once; each prompt takes as many as fit
  std::vector<std::pair<std::string, int>> context_docs;  // document, its tokens
  for (int64_t i = 0, total = 0; total <= context; i++) {
    std::string d = Curriculum::document(cur.pretrain(i));
    const int dl = (int)tok.encode(d).size();
    total += dl;
    context_docs.emplace_back(std::move(d), dl);
  }
  std::vector<Example> probs = cur.eval("arithmetic");
  if (probs.size() > 3) probs.resize(3);
  double plain_s = 0, spec_s = 0, prefill_s = 0;
  std::string first_prompt;  // the first problem's prompt, as given
  for (const Example& ex : probs) {
    // the R1 prompt, or its compact last line (a form pretraining uses too) when the
    // template leaves less than new_tokens of room under max_position_embeddings
    std::string prompt = "<bos>" + ex.prompt + " ";
    const size_t last_line = ex.prompt.rfind("User: ");
    if ((int)tok.encode(prompt).size() + new_tokens > c.max_position_embeddings && last_line != std::string::npos) {
      prompt = "<bos>" + ex.prompt.substr(last_line) + " ";
      r.mtp_prompt = "compact";
    }
    {  // as many context documents as fit with the prompt in `context` tokens
      int len = (int)tok.encode(prompt).size();
      std::string prefix;
      for (const auto& [d, dl] : context_docs) {
        if (len + dl > context || len + dl + new_tokens > c.max_position_embeddings) break;
        prefix += d;
        len += dl;
      }
      prompt = prefix + prompt;
    }
    if (first_prompt.empty()) first_prompt = prompt;
    const int room = c.max_position_embeddings - (int)tok.encode(prompt).size();
    if (room < 1)
      throw InvalidArgument("bench decode: the arithmetic prompt (" + std::to_string(c.max_position_embeddings - room) +
                            " tokens) leaves no room under max_position_embeddings (" +
                            std::to_string(c.max_position_embeddings) + ")");
    SamplingConfig s;
    s.temperature = 0;
    s.draft_tokens = draft_tokens;
    s.max_new_tokens = std::min(new_tokens, room);
    if (plain_s == 0) {  // warm-up
      SamplingConfig w = s;
      w.max_new_tokens = 1;
      sample(m, prompt, 1, w);
    }
    Completion plain, spec;
    double plain_best = 1e300, spec_best = 1e300, prefill_best = 1e300;
    SamplingConfig first = s;  // the prompt's prefill and the first token: what both modes share
    first.max_new_tokens = 1;
    for (int rep = 0; rep < kReps; rep++) {  // alternating, so both see the same machine
      s.speculative = false;
      auto t0 = Clock::now();
      plain = sample(m, prompt, 1, s)[0];
      plain_best = std::min(plain_best, seconds_since(t0));
      s.speculative = true;
      t0 = Clock::now();
      spec = sample(m, prompt, 1, s)[0];
      spec_best = std::min(spec_best, seconds_since(t0));
      t0 = Clock::now();
      sample(m, prompt, 1, first);
      prefill_best = std::min(prefill_best, seconds_since(t0));
    }
    plain_s += plain_best;
    spec_s += spec_best;
    prefill_s += prefill_best;
    r.mtp_same_tokens = r.mtp_same_tokens && plain.tokens == spec.tokens;
    // every generated token: a final <eos> is dropped from Completion::tokens
    const bool eos_dropped = !plain.truncated && (plain.tokens.empty() || plain.tokens.back() != Tokenizer::kEndAnswer);
    r.mtp_tokens += (int64_t)plain.tokens.size() + (eos_dropped ? 1 : 0);
    r.mtp_drafted += spec.drafted;
    r.mtp_accepted += spec.accepted;
    for (int j = 0; j < draft_tokens; j++) r.mtp_drafted_at[j] += spec.drafted_at[j], r.mtp_accepted_at[j] += spec.accepted_at[j];
  }
  {  // what one pass costs at the first prompt's context
    const std::vector<int32_t> p = tok.encode(first_prompt);
    const int T = std::min((int)p.size(), c.max_position_embeddings - 2);
    const int nv = draft_tokens + 1;  // a verifying pass's new tokens
    Model::DecodeCache main = m.new_cache(1, T + std::max(2, nv)), mc = m.new_mtp_cache(1, T + 2);
    std::vector<float> logits, hidden, ml;
    auto best_ms = [&](auto&& f) {
      double b = 1e300;
      for (int rep = 0; rep < 20; rep++) {
        const auto t0 = Clock::now();
        f();
        b = std::min(b, seconds_since(t0) * 1e3);
      }
      return b;
    };
    r.ms_prefill = best_ms([&] { main.T = T; m.prefill(main, 0, 1, p.data(), T, logits, &hidden); });
    const std::vector<float> h_prompt = hidden;
    std::vector<int32_t> next(p.begin() + 1, p.end());
    next.push_back(p.back());
    // as speculative decoding runs them: only the last position drafts
    r.ms_mtp_prompt = best_ms([&] { mc.T = 0; m.mtp_decode(mc, h_prompt.data(), next.data(), T, ml, true); });
    r.mtp_context = T;
    const int32_t two[2] = {p[T - 1], p[T - 2]};  // two different tokens: they may route to different experts
    r.ms_main_1 = best_ms([&] { main.T = T; m.decode(main, two, 1, logits, &hidden); });
    std::vector<int32_t> verify(nv);
    for (int j = 0; j < nv; j++) verify[j] = p[T - 1 - j % T];  // different tokens, as drafts are
    if (nv > 2) r.ms_main_verify = best_ms([&] { main.T = T; m.decode(main, verify.data(), nv, logits); });
    r.ms_main_2 = best_ms([&] { main.T = T; m.decode(main, two, 2, logits, &hidden); });  // hidden [2, d]
    if (nv == 2) r.ms_main_verify = r.ms_main_2;  // one draft: the verifying pass is the 2-token one
    r.ms_mtp_1 = best_ms([&] { mc.T = T; m.mtp_decode(mc, hidden.data(), two, 1, ml, true); });
    r.ms_mtp_2 = best_ms([&] { mc.T = T; m.mtp_decode(mc, hidden.data(), two, 2, ml, true); });
  }
  // decoding rates: the tokens after each prompt's first, over the time after its prefill
  const double decoded = (double)(r.mtp_tokens - (int64_t)probs.size());
  r.tokens_per_s_greedy = decoded / std::max(1e-9, plain_s - prefill_s);
  r.tokens_per_s_speculative = decoded / std::max(1e-9, spec_s - prefill_s);
  r.mtp_speedup_end_to_end = plain_s / spec_s;
  r.mtp_speedup = (plain_s - prefill_s) / std::max(1e-9, spec_s - prefill_s);
  r.mtp_acceptance = r.mtp_drafted > 0 ? (double)r.mtp_accepted / r.mtp_drafted : 0.0;
  return r;
}

}  // namespace aha
