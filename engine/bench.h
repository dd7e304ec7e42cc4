// `aha bench train`: times real training steps of a configuration and reports
// throughput, achieved FLOP/s and MFU against the measured FMA peak of this machine.
#pragma once
#include <string>

#include "engine/config.h"
#include "engine/model.h"

namespace aha {

struct TrainBench {
  double tokens_per_s = 0, step_ms_median = 0, flops_per_token = 0, achieved_gflops = 0;
  double peak_gflops = 0, mfu = 0, peak_rss_mb = 0;
  // this run's own FMA probes (the higher of before and after the steps): below
  // peak_gflops, the best ever seen here, when the machine was lending its cores elsewhere
  // (on a shared VM the probe has read anything from half to all of the best)
  double peak_probe_gflops = 0;
  std::string precision;  // train.precision
  // Linear inputs stashed for Wgrad per step (kernels/cpu/stash.h): as held (BF16 / FP8
  // codes + scales) and as FP32; both 0 in FP32, which keeps the floats
  double stash_mb = 0, stash_fp32_mb = 0;
  int batch_size = 0, seq_len = 0, steps = 0, threads = 0;
  size_t params_total = 0, params_active = 0;
  std::string simd, cpu;
  std::string profile;  // per-op table (with --profile)
  std::string to_json() const;
};

// Runs `steps` timed optimiser steps after 2 warm-up steps. peak_cache: where the FMA
// probe's result is cached ("" = measure every time).
// profile: time every op through ProfilingOps (slower; for finding hot spots).
// record_dir: when not empty, every step is also recorded into a run database there,
// as `aha train` does (metrics and MoE rows), to measure what recording costs.
TrainBench bench_train(const RunConfig& cfg, int steps, const std::string& peak_cache,
                       bool profile = false, const std::string& record_dir = "");

}  // namespace aha

namespace aha {

// `aha bench store`: sustained ingest into a run database on this machine.
struct StoreBench {
  double points_per_s = 0, traces_per_s = 0;
  int64_t points = 0, traces = 0;
  double db_mb = 0;
  // What a chart pays for one series of (points / series) points: the min/max decimation
  // into 1,200 buckets of the whole range and of a 1% zoom (median of 5 reads, ms).
  int64_t series_points = 0;
  double decimate_full_ms = 0, decimate_zoom_ms = 0;
  std::string to_json() const;
};
// Writes `points` scalar points (in steps of `series` values, as a training loop would)
// and `traces` GRPO-style traces into a fresh database under `dir`, timing enqueue to
// commit.
StoreBench bench_store(const std::string& dir, int64_t points, int64_t traces, int series = 20);

}  // namespace aha

namespace aha {

// `aha bench decode`: decoding throughput of a model through both MLA caches, and
// optionally greedy MTP speculative decoding.
struct DecodeBench {
  double tokens_per_s_absorbed = 0, tokens_per_s_naive = 0, speedup = 0;  // speedup: absorbed / naive
  double kv_bytes_per_token_mla = 0, kv_bytes_per_token_mha = 0;          // BF16 elements, all layers
  int context = 0, batch = 0, new_tokens = 0, threads = 0;
  bool mtp = false;
  // with mtp: greedy generation of arithmetic answers, batch 1, with and without drafts
  // mtp_speedup: decoding time, plain over speculative, after the prompt's prefill (which
  // both share; the MTP module's own pass over the prompt counts against speculation);
  // mtp_speedup_end_to_end: the same including the prefill
  double mtp_acceptance = 0, mtp_speedup = 0, mtp_speedup_end_to_end = 0, tokens_per_s_greedy = 0,
         tokens_per_s_speculative = 0;
  int64_t mtp_drafted = 0, mtp_accepted = 0, mtp_tokens = 0;
  int draft_tokens = 1;  // MTP drafts per main pass (SamplingConfig::draft_tokens)
  // per draft position j: drafts checked / accepted (j > 0 only after j-1 was accepted)
  std::vector<int64_t> mtp_drafted_at, mtp_accepted_at;
  double ms_main_verify = 0;  // one main pass over draft_tokens + 1 new tokens
  // with mtp: one pass at the first prompt's context, ms (best of several): the main model
  // over 1 and 2 new tokens, the MTP module over 1 and 2 — what a speculative round costs
  // (main 2 + MTP 2 when the draft is accepted) against two plain steps (2 × main 1)
  double ms_main_1 = 0, ms_main_2 = 0, ms_mtp_1 = 0, ms_mtp_2 = 0, ms_mtp_prompt = 0, ms_prefill = 0;
  bool mtp_same_tokens = true;  // speculative output equal to plain greedy, token for token
  std::string mtp_prompt = "r1";  // "compact" when some R1 prompt did not fit (see below)
  int mtp_context = 0;            // tokens of the first MTP prompt, context prefix included
  std::string to_json() const;
};
// The context is the first `context` tokens of the curriculum's pretraining documents
// (cfg.curriculum), the same in every row; it is prefilled, then `new_tokens` greedy
// decoding steps of all `batch` rows are timed, once with each cache. With mtp, the first
// three arithmetic eval prompts ("<bos>" prompt " ") are answered greedily with and
// without speculation (up to new_tokens each), timed end to end (prefill included); each
// prompt follows as many whole pretraining documents as fit with it in `context` tokens
// (none when the prompt alone is that long), so --context sets how far back attention
// reads while the answer is decoded. A prompt whose R1 template does not fit with
// new_tokens under max_position_embeddings is given in its compact form, the template's
// last line "User: Q. Assistant:". InvalidArgument when context + new_tokens exceed
// max_position_embeddings, or mtp without an MTP module.
DecodeBench bench_decode(Model& m, const RunConfig& cfg, int context, int batch, int new_tokens, bool mtp,
                         int draft_tokens = 1);

}  // namespace aha
