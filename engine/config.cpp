// Run configuration: TOML <-> RunConfig, and the one validator shared by the
// CLI and the studio. Every key is listed once, in for_each_key(); parsing,
// serialisation and the unknown-key suggestions are all driven by that list,
// so adding a field to config.h means adding one line there.
#include "engine/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <type_traits>
#include <utility>

#include <toml++/toml.h>

#include "engine/error.h"
#include "engine/task.h"

namespace aha {

const std::vector<std::pair<std::string, std::string>>& builtin_presets();  // presets.cpp

namespace {

namespace fs = std::filesystem;

// Calls f(table, key, field) for every configurable field, in file order.
// `table` is "" for top-level keys. Works on RunConfig and const RunConfig.
template <class Cfg, class F>
void for_each_key(Cfg& c, F&& f) {
  f("", "name", c.name);
  f("", "tags", c.tags);    // labels the run browser filters by
  f("", "notes", c.notes);  // free text shown with the run
  auto& m = c.model;
  f("model", "vocab_size", m.vocab_size);
  f("model", "hidden_size", m.hidden_size);
  f("model", "intermediate_size", m.intermediate_size);
  f("model", "moe_intermediate_size", m.moe_intermediate_size);
  f("model", "num_hidden_layers", m.num_hidden_layers);
  f("model", "first_k_dense_replace", m.first_k_dense_replace);
  f("model", "num_attention_heads", m.num_attention_heads);
  f("model", "n_routed_experts", m.n_routed_experts);
  f("model", "n_shared_experts", m.n_shared_experts);
  f("model", "num_experts_per_tok", m.num_experts_per_tok);
  f("model", "n_group", m.n_group);
  f("model", "topk_group", m.topk_group);
  f("model", "routed_scaling_factor", m.routed_scaling_factor);
  f("model", "scoring_func", m.scoring_func);
  f("model", "norm_topk_prob", m.norm_topk_prob);
  f("model", "q_lora_rank", m.q_lora_rank);
  f("model", "kv_lora_rank", m.kv_lora_rank);
  f("model", "qk_nope_head_dim", m.qk_nope_head_dim);
  f("model", "qk_rope_head_dim", m.qk_rope_head_dim);
  f("model", "v_head_dim", m.v_head_dim);
  f("model", "num_nextn_predict_layers", m.num_nextn_predict_layers);
  f("model", "rope_theta", m.rope_theta);
  f("model", "rms_norm_eps", m.rms_norm_eps);
  f("model", "max_position_embeddings", m.max_position_embeddings);
  f("model", "initializer_range", m.initializer_range);
  f("model", "aux_loss_alpha", m.aux_loss_alpha);
  f("model", "bias_update_speed", m.bias_update_speed);
  f("model", "mtp_loss_weight", m.mtp_loss_weight);
  auto& t = c.train;
  f("train", "seed", t.seed);
  f("train", "batch_size", t.batch_size);
  f("train", "seq_len", t.seq_len);
  f("train", "grad_accum", t.grad_accum);
  f("train", "steps", t.steps);
  f("train", "lr", t.lr);
  f("train", "min_lr", t.min_lr);
  f("train", "warmup_steps", t.warmup_steps);
  f("train", "lr_schedule", t.lr_schedule);
  f("train", "decay_steps", t.decay_steps);
  f("train", "beta1", t.beta1);
  f("train", "beta2", t.beta2);
  f("train", "adam_eps", t.adam_eps);
  f("train", "weight_decay", t.weight_decay);
  f("train", "grad_clip", t.grad_clip);
  f("train", "threads", t.threads);
  f("train", "log_every", t.log_every);
  f("train", "checkpoint_every", t.checkpoint_every);
  f("train", "eval_samples", t.eval_samples);
  f("train", "precision", t.precision);
  f("train", "fp8_pow2_scales", t.fp8_pow2_scales);
  f("train", "adam_moments", t.adam_moments);
  auto& d = c.data;
  f("data", "source", d.source);
  f("data", "synthetic_bytes", d.synthetic_bytes);
  f("data", "eval_fraction", d.eval_fraction);
  auto& cu = c.curriculum;
  f("curriculum", "seed", cu.seed);
  f("curriculum", "weight_arithmetic", cu.weight_arithmetic);
  f("curriculum", "weight_countdown", cu.weight_countdown);
  f("curriculum", "weight_linear", cu.weight_linear);
  f("curriculum", "difficulty_arithmetic", cu.difficulty_arithmetic);
  f("curriculum", "difficulty_countdown", cu.difficulty_countdown);
  f("curriculum", "difficulty_linear", cu.difficulty_linear);
  f("curriculum", "zh_fraction", cu.zh_fraction);
  f("curriculum", "code_switch", cu.code_switch);
  f("curriculum", "self_correction", cu.self_correction);
  f("curriculum", "carry_style", cu.carry_style);
  f("curriculum", "template_fraction", cu.template_fraction);
  f("curriculum", "pretrain_problems", cu.pretrain_problems);
  f("curriculum", "sft_problems", cu.sft_problems);
  f("curriculum", "rl_problems", cu.rl_problems);
  f("curriculum", "eval_problems", cu.eval_problems);
  f("curriculum", "eval_fraction", cu.eval_fraction);
  auto& s = c.sft;
  f("sft", "steps", s.steps);
  f("sft", "lr", s.lr);
  f("sft", "batch_size", s.batch_size);
  f("sft", "seq_len", s.seq_len);
  f("sft", "source", s.source);
  auto& g = c.grpo;
  f("grpo", "steps", g.steps);
  f("grpo", "task", g.task);
  f("grpo", "difficulty", g.difficulty);
  f("grpo", "prompts_per_step", g.prompts_per_step);
  f("grpo", "group_size", g.group_size);
  f("grpo", "updates_per_batch", g.updates_per_batch);
  f("grpo", "micro_batch", g.micro_batch);
  f("grpo", "pack_prompts", g.pack_prompts);
  f("grpo", "skip_zero_advantage", g.skip_zero_advantage);
  f("grpo", "lr", g.lr);
  f("grpo", "warmup_steps", g.warmup_steps);
  f("grpo", "epsilon_low", g.epsilon_low);
  f("grpo", "epsilon_high", g.epsilon_high);
  f("grpo", "beta", g.beta);
  f("grpo", "advantage", g.advantage);
  f("grpo", "scale_batch", g.scale_batch);
  f("grpo", "loss_agg", g.loss_agg);
  f("grpo", "max_new_tokens", g.max_new_tokens);
  f("grpo", "temperature", g.temperature);
  f("grpo", "top_p", g.top_p);
  f("grpo", "top_k", g.top_k);
  f("grpo", "dynamic_sampling", g.dynamic_sampling);
  f("grpo", "head_lr_scale", g.head_lr_scale);
  f("grpo", "max_resample", g.max_resample);
  f("grpo", "mask_truncated", g.mask_truncated);
  f("grpo", "reward_accuracy", g.reward_accuracy);
  f("grpo", "reward_format", g.reward_format);
  f("grpo", "reward_language", g.reward_language);
  f("grpo", "tinyzero", g.tinyzero);
  f("grpo", "eval_problems", g.eval_problems);
}

constexpr std::string_view kTables[] = {"model", "train", "data", "curriculum", "sft", "grpo"};

std::string full_key(std::string_view table, std::string_view key) {
  return table.empty() ? std::string(key) : std::string(table) + "." + std::string(key);
}

// Shortest text that parses back to the same double; always a TOML float.
std::string fmt_double(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (s.find_first_of(".eEni") == std::string::npos) s += ".0";  // "3" -> "3.0"; inf/nan stay
  return s;
}

std::string str(double v) { return fmt_double(v); }
std::string str(int v) { return std::to_string(v); }
std::string str(int64_t v) { return std::to_string(v); }
std::string str(uint64_t v) { return std::to_string(v); }

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (ch < 0x20 || ch == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out + "\"";
}

std::string type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

// Optimal-string-alignment distance (Levenshtein plus adjacent transposition,
// so "hdiden_size" is one edit from "hidden_size"), case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

// " (did you mean model.hidden_size?)" or "". A key that exists verbatim in
// another table ("model.lr") points there; otherwise the closest key of the
// same table within two edits.
std::string suggestion(std::string_view table, std::string_view key) {
  RunConfig dummy;
  std::string elsewhere, best;
  size_t best_d = 3;
  auto consider = [&](std::string_view t, std::string_view k) {
    if (k == key && t != table && elsewhere.empty()) elsewhere = full_key(t, k);  // first table wins
    if (t != table) return;
    size_t dist = edit_distance(key, k);
    if (dist < best_d) best_d = dist, best = full_key(t, k);
  };
  for_each_key(dummy, [&](std::string_view t, std::string_view k, auto&) { consider(t, k); });
  if (table.empty())
    for (auto t : kTables) consider("", t);
  const std::string& pick = !elsewhere.empty() ? elsewhere : best;
  return pick.empty() ? "" : " (did you mean " + pick + "?)";
}

struct Reader {
  std::string origin;

  [[noreturn]] void fail(const std::string& key, const std::string& rule) const {
    throw ConfigError(origin + ": " + key + ": " + rule, key);
  }
  [[noreturn]] void wrong_type(const std::string& key, const char* want, const toml::node& n) const {
    fail(key, std::string("expected ") + want + ", got " + type_name(n.type()));
  }

  // One overload per field type: the TOML type each accepts is the strictness rule.
  void read(const std::string& key, const toml::node& n, int& out) const {
    if (!n.is_integer()) wrong_type(key, "an integer", n);
    int64_t v = n.as_integer()->get();
    if (v < INT_MIN || v > INT_MAX) fail(key, str(v) + " is out of range for a 32-bit integer");
    out = static_cast<int>(v);
  }
  void read(const std::string& key, const toml::node& n, uint64_t& out) const {
    if (!n.is_integer()) wrong_type(key, "an integer", n);
    int64_t v = n.as_integer()->get();
    if (v < 0) fail(key, "must be >= 0, got " + str(v));
    out = static_cast<uint64_t>(v);
  }
  void read(const std::string& key, const toml::node& n, double& out) const {
    // Integers are fine where a float is expected ("lr = 1" means 1.0).
    if (n.is_integer()) out = static_cast<double>(n.as_integer()->get());
    else if (n.is_floating_point()) out = n.as_floating_point()->get();
    else wrong_type(key, "a float", n);
  }
  void read(const std::string& key, const toml::node& n, bool& out) const {
    if (!n.is_boolean()) wrong_type(key, "a boolean", n);
    out = n.as_boolean()->get();
  }
  void read(const std::string& key, const toml::node& n, std::string& out) const {
    if (!n.is_string()) wrong_type(key, "a string", n);
    out = n.as_string()->get();
  }
  void read(const std::string& key, const toml::node& n, std::vector<std::string>& out) const {
    if (!n.is_array()) wrong_type(key, "an array of strings", n);
    out.clear();
    size_t i = 0;
    for (const toml::node& item : *n.as_array()) {
      if (!item.is_string()) wrong_type(key + "[" + std::to_string(i) + "]", "a string", item);
      out.push_back(item.as_string()->get());
      i++;
    }
  }

  // Assigns every key of `tbl` (a section, or the top level with table "")
  // to its field in `cfg`; unknown keys are errors.
  void read_section(std::string_view table, const toml::table& tbl, RunConfig& cfg) const {
    for (auto&& [k, node] : tbl) {
      std::string_view key = k.str();
      if (table.empty() && std::find(std::begin(kTables), std::end(kTables), key) != std::end(kTables)) {
        if (!node.is_table()) wrong_type(std::string(key), "a table", node);
        read_section(key, *node.as_table(), cfg);
        continue;
      }
      bool found = false;
      for_each_key(cfg, [&](std::string_view t, std::string_view name, auto& field) {
        if (found || t != table || name != key) return;
        found = true;
        read(full_key(t, name), node, field);
      });
      if (!found) fail(full_key(table, key), "unknown key" + suggestion(table, key));
    }
  }
};

// validate() helpers. Each throws with "<origin>: <key>: <rule>".
struct Checker {
  std::string origin;

  [[noreturn]] void fail(const std::string& key, const std::string& rule) const {
    throw ConfigError(origin + ": " + key + ": " + rule, key);
  }
  void positive(const char* key, int64_t v) const {
    if (v <= 0) fail(key, "must be > 0, got " + str(v));
  }
  void non_negative(const char* key, double v) const {
    if (v < 0) fail(key, "must be >= 0, got " + str(v));
  }
  void non_negative(const char* key, int v) const {
    if (v < 0) fail(key, "must be >= 0, got " + str(v));
  }
  void above_zero(const char* key, double v) const {
    if (!(v > 0)) fail(key, "must be > 0, got " + str(v));
  }
  void one_of(const char* key, const std::string& v, std::initializer_list<const char*> allowed) const {
    std::string list;
    for (const char* a : allowed) {
      if (v == a) return;
      list += (list.empty() ? "" : ", ") + quote(a);
    }
    fail(key, quote(v) + " is not one of " + list);
  }
  void not_above(const char* key, int64_t v, const char* other_key, int64_t other) const {
    if (v > other) fail(key, str(v) + " is larger than " + other_key + " (" + str(other) + ")");
  }
};

void validate_model(const ModelConfig& m, const Checker& c) {
  if (m.vocab_size < 264)
    c.fail("model.vocab_size", "must be at least 264 (8 special tokens + 256 bytes), got " + str(m.vocab_size));
  c.positive("model.hidden_size", m.hidden_size);
  c.positive("model.intermediate_size", m.intermediate_size);
  c.positive("model.num_hidden_layers", m.num_hidden_layers);
  c.non_negative("model.first_k_dense_replace", m.first_k_dense_replace);
  c.not_above("model.first_k_dense_replace", m.first_k_dense_replace, "model.num_hidden_layers", m.num_hidden_layers);
  c.positive("model.num_attention_heads", m.num_attention_heads);
  c.non_negative("model.q_lora_rank", m.q_lora_rank);  // 0 = plain q_proj
  c.positive("model.kv_lora_rank", m.kv_lora_rank);
  c.positive("model.qk_nope_head_dim", m.qk_nope_head_dim);
  c.positive("model.qk_rope_head_dim", m.qk_rope_head_dim);
  if (m.qk_rope_head_dim % 2 != 0)
    c.fail("model.qk_rope_head_dim", str(m.qk_rope_head_dim) + " is odd; RoPE rotates pairs of dimensions, so it must be even");
  c.positive("model.v_head_dim", m.v_head_dim);
  c.non_negative("model.num_nextn_predict_layers", m.num_nextn_predict_layers);
  c.above_zero("model.rope_theta", m.rope_theta);
  c.above_zero("model.rms_norm_eps", m.rms_norm_eps);
  c.positive("model.max_position_embeddings", m.max_position_embeddings);
  // A zero init makes every unit identical and gradients symmetric.
  c.above_zero("model.initializer_range", m.initializer_range);
  c.non_negative("model.mtp_loss_weight", m.mtp_loss_weight);

  c.non_negative("model.n_routed_experts", m.n_routed_experts);
  if (m.n_routed_experts == 0) return;  // every layer dense: the MoE keys are unused
  c.positive("model.moe_intermediate_size", m.moe_intermediate_size);
  c.non_negative("model.n_shared_experts", m.n_shared_experts);
  c.positive("model.num_experts_per_tok", m.num_experts_per_tok);
  c.not_above("model.num_experts_per_tok", m.num_experts_per_tok, "model.n_routed_experts", m.n_routed_experts);
  c.positive("model.n_group", m.n_group);
  c.positive("model.topk_group", m.topk_group);
  c.not_above("model.topk_group", m.topk_group, "model.n_group", m.n_group);
  if (m.n_routed_experts % m.n_group != 0)
    c.fail("model.n_routed_experts", str(m.n_routed_experts) + " experts cannot be split evenly into model.n_group = " +
                                         str(m.n_group) + " groups");
  const int per_group = m.n_routed_experts / m.n_group;
  if (m.n_group > 1 && per_group < 2)
    c.fail("model.n_group", str(m.n_group) + " groups leave " + str(per_group) +
                                " expert per group; group-limited routing scores a group by the sum of its top-2 "
                                "experts, so each group needs at least 2");
  if (m.topk_group * per_group < m.num_experts_per_tok)
    c.fail("model.topk_group", str(m.topk_group) + " groups x " + str(per_group) + " experts per group = " +
                                   str(m.topk_group * per_group) + " candidates, fewer than model.num_experts_per_tok (" +
                                   str(m.num_experts_per_tok) + ")");
  c.above_zero("model.routed_scaling_factor", m.routed_scaling_factor);
  c.one_of("model.scoring_func", m.scoring_func, {"sigmoid", "softmax"});
  c.non_negative("model.aux_loss_alpha", m.aux_loss_alpha);
  c.non_negative("model.bias_update_speed", m.bias_update_speed);
}

void validate_train(const TrainConfig& t, const ModelConfig& m, const Checker& c) {
  // TOML integers are signed 64-bit; a larger seed could not be written back.
  if (t.seed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    c.fail("train.seed", str(t.seed) + " does not fit in a TOML integer (at most 2^63-1)");
  c.positive("train.batch_size", t.batch_size);
  c.positive("train.seq_len", t.seq_len);
  c.not_above("train.seq_len", t.seq_len, "model.max_position_embeddings", m.max_position_embeddings);
  // Position i predicts tokens i+1 .. i+1+D: a window needs at least D+2 tokens.
  if (t.seq_len < 2 + m.num_nextn_predict_layers)
    c.fail("train.seq_len", str(t.seq_len) + " is too short for model.num_nextn_predict_layers = " +
                                str(m.num_nextn_predict_layers) + " (needs at least " +
                                str(2 + m.num_nextn_predict_layers) + ")");
  c.positive("train.grad_accum", t.grad_accum);
  c.positive("train.steps", t.steps);
  c.above_zero("train.lr", t.lr);
  c.non_negative("train.min_lr", t.min_lr);
  if (t.min_lr > t.lr) c.fail("train.min_lr", str(t.min_lr) + " is larger than train.lr (" + str(t.lr) + ")");
  c.non_negative("train.warmup_steps", t.warmup_steps);
  c.not_above("train.warmup_steps", t.warmup_steps, "train.steps", t.steps);
  c.one_of("train.lr_schedule", t.lr_schedule, {"cosine", "constant"});
  c.non_negative("train.decay_steps", t.decay_steps);
  c.not_above("train.decay_steps", t.decay_steps, "train.steps", t.steps);
  if (t.decay_steps > 0 && t.decay_steps <= t.warmup_steps)
    c.fail("train.decay_steps", str(t.decay_steps) + " must be larger than train.warmup_steps (" + str(t.warmup_steps) +
                                    ") or 0 (decay to the last step)");
  if (!(t.beta1 >= 0 && t.beta1 < 1)) c.fail("train.beta1", str(t.beta1) + " is not in [0, 1)");
  if (!(t.beta2 >= 0 && t.beta2 < 1)) c.fail("train.beta2", str(t.beta2) + " is not in [0, 1)");
  c.above_zero("train.adam_eps", t.adam_eps);
  c.non_negative("train.weight_decay", t.weight_decay);
  c.non_negative("train.grad_clip", t.grad_clip);
  c.non_negative("train.threads", t.threads);
  if (t.log_every < 1) c.fail("train.log_every", "must be >= 1, got " + str(t.log_every));
  c.non_negative("train.checkpoint_every", t.checkpoint_every);
  c.non_negative("train.eval_samples", t.eval_samples);
  c.one_of("train.precision", t.precision, {"fp32", "bf16", "fp8"});
  c.one_of("train.adam_moments", t.adam_moments, {"fp32", "bf16"});
}

void validate_data(const RunConfig& cfg, const Checker& c) {
  const DataConfig& d = cfg.data;
  if (d.source.empty()) c.fail("data.source", "must not be empty (\"synthetic\" or a path to a text file)");
  if (!(d.eval_fraction >= 0 && d.eval_fraction <= 0.5))
    c.fail("data.eval_fraction", str(d.eval_fraction) + " is not in [0, 0.5]");
  if (d.source != "synthetic") return;  // a file's size (or the curriculum's) is checked when it is built
  if (d.synthetic_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    c.fail("data.synthetic_bytes", str(d.synthetic_bytes) + " does not fit in a TOML integer (at most 2^63-1)");
  // Byte-level tokens: the training part must hold at least one window.
  const int64_t window = int64_t(cfg.train.seq_len) + 1 + cfg.model.num_nextn_predict_layers;
  if (double(d.synthetic_bytes) * (1.0 - d.eval_fraction) < double(window))
    c.fail("data.synthetic_bytes", str(d.synthetic_bytes) + " is too small: the training part must hold one window of " +
                                       str(window) + " tokens (train.seq_len + 1 + model.num_nextn_predict_layers)");
}

RunConfig parse_text(const std::string& text, const std::string& origin) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& pos = e.source().begin;
    throw ConfigError(origin + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " +
                      std::string(e.description()));
  }
  RunConfig cfg;  // missing keys keep the defaults of config.h
  Reader{origin}.read_section("", doc, cfg);
  cfg.origin = origin;
  return cfg;
}

std::string preset_list() {
  std::string s;
  for (const auto& name : preset_names()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

}  // namespace

RunConfig parse_config(const std::string& toml_text, const std::string& origin) {
  RunConfig cfg = parse_text(toml_text, origin);
  validate(cfg);
  return cfg;
}

RunConfig load_config(const std::string& preset_or_path) {
  for (const auto& [name, text] : builtin_presets())
    if (name == preset_or_path) return parse_config(text, name);

  std::error_code ec;
  const fs::path path(preset_or_path);
  if (!fs::exists(path, ec))
    throw ConfigError(preset_or_path + ": not a built-in preset and no such file; built-in presets: " + preset_list());
  if (!fs::is_regular_file(path, ec)) throw IoError(preset_or_path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) throw IoError(preset_or_path + ": cannot open the file for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(preset_or_path + ": read error");

  RunConfig cfg = parse_text(text.str(), preset_or_path);
  // A corpus path in a config file means "next to this file", not "next to
  // wherever the command happens to run".
  fs::path source(cfg.data.source);
  if (cfg.data.source != "synthetic" && cfg.data.source != "curriculum" && !cfg.data.source.empty() &&
      source.is_relative())
    cfg.data.source = (path.parent_path() / source).lexically_normal().string();
  if (cfg.sft.source != "curriculum" && !cfg.sft.source.empty() && fs::path(cfg.sft.source).is_relative())
    cfg.sft.source = (path.parent_path() / cfg.sft.source).lexically_normal().string();
  validate(cfg);
  return cfg;
}

void validate_curriculum(const RunConfig& cfg, const Checker& c) {
  const CurriculumConfig& u = cfg.curriculum;
  if (u.seed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    c.fail("curriculum.seed", str(u.seed) + " does not fit in a TOML integer (at most 2^63-1)");
  c.non_negative("curriculum.weight_arithmetic", u.weight_arithmetic);
  c.non_negative("curriculum.weight_countdown", u.weight_countdown);
  c.non_negative("curriculum.weight_linear", u.weight_linear);
  if (!(u.weight_arithmetic + u.weight_countdown + u.weight_linear > 0))
    c.fail("curriculum.weight_arithmetic", "the task weights (arithmetic, countdown, linear) must not all be 0");
  if (u.difficulty_arithmetic < 1 || u.difficulty_arithmetic > 9)
    c.fail("curriculum.difficulty_arithmetic", str(u.difficulty_arithmetic) + " digits is not in [1, 9]");
  if (u.difficulty_countdown < 1 || u.difficulty_countdown > 3)
    c.fail("curriculum.difficulty_countdown", str(u.difficulty_countdown) + " is not in [1, 3]");
  if (u.difficulty_linear < 1 || u.difficulty_linear > 5)
    c.fail("curriculum.difficulty_linear", str(u.difficulty_linear) + " is not in [1, 5]");
  for (auto [key, v] : {std::pair{"curriculum.zh_fraction", u.zh_fraction}, {"curriculum.code_switch", u.code_switch},
                        {"curriculum.self_correction", u.self_correction},
                        {"curriculum.template_fraction", u.template_fraction}})
    if (!(v >= 0 && v <= 1)) c.fail(key, str(v) + " is not a probability in [0, 1]");
  c.one_of("curriculum.carry_style", u.carry_style, {"sum", "two_facts"});
  c.positive("curriculum.pretrain_problems", u.pretrain_problems);
  c.non_negative("curriculum.sft_problems", u.sft_problems);
  c.non_negative("curriculum.rl_problems", u.rl_problems);
  c.positive("curriculum.eval_problems", u.eval_problems);
  if (!(u.eval_fraction > 0 && u.eval_fraction <= 0.5))
    c.fail("curriculum.eval_fraction", str(u.eval_fraction) + " is not in (0, 0.5]");
  const SftConfig& s = cfg.sft;
  c.non_negative("sft.steps", s.steps);
  if (s.steps == 0) return;
  c.above_zero("sft.lr", s.lr);
  c.positive("sft.batch_size", s.batch_size);
  c.positive("sft.seq_len", s.seq_len);
  c.not_above("sft.seq_len", s.seq_len, "model.max_position_embeddings", cfg.model.max_position_embeddings);
  if (s.source.empty()) c.fail("sft.source", "must not be empty (\"curriculum\" or a JSONL path)");
  if (s.source == "curriculum" && u.sft_problems == 0)
    c.fail("curriculum.sft_problems", "is 0 but sft.steps > 0 trains on the curriculum's SFT set");
}

RunConfig apply_overrides(RunConfig cfg, const std::vector<std::string>& assignments) {
  for (const std::string& a : assignments) {
    const std::string origin = "--set " + a;
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) throw ConfigError(origin + ": expected KEY=VALUE, e.g. grpo.steps=20");
    std::string key = a.substr(0, eq), value = a.substr(eq + 1);
    const size_t dot = key.find('.');
    const std::string table = dot == std::string::npos ? "" : key.substr(0, dot);
    const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
    if (name.empty() || name.find('.') != std::string::npos)
      throw ConfigError(origin + ": '" + key + "' is not a key (TABLE.KEY, e.g. train.steps)");
    toml::table v;
    try {
      v = toml::parse("v = " + value);
    } catch (const toml::parse_error&) {
      // a bare word is a string: --set grpo.task=countdown
      if (value.find_first_of("\"\\\n") != std::string::npos)
        throw ConfigError(origin + ": the value is not a TOML value");
      v = toml::parse("v = \"" + value + "\"");
    }
    toml::table inner;
    inner.insert(name, *v.get("v"));
    toml::table doc;
    if (table.empty()) doc = inner;
    else doc.insert(table, inner);
    Reader{origin}.read_section("", doc, cfg);
  }
  validate(cfg);
  return cfg;
}

void validate_grpo(const RunConfig& cfg, const Checker& c) {
  const GrpoConfig& g = cfg.grpo;
  c.non_negative("grpo.steps", g.steps);
  if (g.steps == 0) return;
  const auto names = task_names();
  if (std::find(names.begin(), names.end(), g.task) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + quote(n);
    c.fail("grpo.task", quote(g.task) + " is not a task (" + list + ")");
  }
  const int max_d = g.task == "arithmetic" ? 9 : g.task == "countdown" ? 3 : 5;
  if (g.difficulty < 0 || g.difficulty > max_d)
    c.fail("grpo.difficulty", str(g.difficulty) + " is not in [0, " + str(max_d) + "] (0 = the curriculum's)");
  c.positive("grpo.prompts_per_step", g.prompts_per_step);
  if (g.group_size < 2) c.fail("grpo.group_size", str(g.group_size) + " must be at least 2 (advantages compare a group)");
  c.positive("grpo.updates_per_batch", g.updates_per_batch);
  c.positive("grpo.micro_batch", g.micro_batch);
  c.above_zero("grpo.lr", g.lr);
  c.non_negative("grpo.warmup_steps", g.warmup_steps);
  if (!(g.epsilon_low > 0 && g.epsilon_low < 1)) c.fail("grpo.epsilon_low", str(g.epsilon_low) + " is not in (0, 1)");
  if (!(g.epsilon_high > 0)) c.fail("grpo.epsilon_high", str(g.epsilon_high) + " must be > 0");
  c.non_negative("grpo.beta", g.beta);
  if (!(g.head_lr_scale > 0 && g.head_lr_scale <= 1000))
    c.fail("grpo.head_lr_scale", str(g.head_lr_scale) + " is not in (0, 1000]");
  if (g.advantage != "group" && g.advantage != "dr_grpo")
    c.fail("grpo.advantage", quote(g.advantage) + " is not \"group\" or \"dr_grpo\"");
  if (g.loss_agg != "seq-mean-token-mean" && g.loss_agg != "token-mean" && g.loss_agg != "seq-mean-token-sum-norm")
    c.fail("grpo.loss_agg", quote(g.loss_agg) +
                                " is not \"seq-mean-token-mean\", \"token-mean\" or \"seq-mean-token-sum-norm\"");
  c.positive("grpo.max_new_tokens", g.max_new_tokens);
  if (!(g.temperature > 0)) c.fail("grpo.temperature", str(g.temperature) + " must be > 0 (RL samples)");
  if (!(g.top_p > 0 && g.top_p <= 1)) c.fail("grpo.top_p", str(g.top_p) + " is not in (0, 1]");
  c.non_negative("grpo.top_k", g.top_k);
  c.non_negative("grpo.max_resample", g.max_resample);
  c.non_negative("grpo.reward_accuracy", g.reward_accuracy);
  c.non_negative("grpo.reward_format", g.reward_format);
  c.non_negative("grpo.reward_language", g.reward_language);
  c.non_negative("grpo.eval_problems", g.eval_problems);
  if (g.micro_batch > 0 && g.group_size > 0 && g.prompts_per_step > 0 && g.micro_batch > g.prompts_per_step * g.group_size)
    c.fail("grpo.micro_batch", str(g.micro_batch) + " is larger than prompts_per_step × group_size (" +
                                   str(g.prompts_per_step * g.group_size) + ")");
}

void validate(const RunConfig& cfg) {
  const Checker c{cfg.origin.empty() ? std::string("config") : cfg.origin};
  // TOML allows inf and nan; no knob here means anything with them.
  for_each_key(cfg, [&](std::string_view t, std::string_view k, const auto& v) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, double>)
      if (!std::isfinite(v)) c.fail(full_key(t, k), "must be a finite number, got " + str(v));
  });
  if (cfg.name.empty()) c.fail("name", "must not be empty");
  // The run name may become a file or directory name.
  if (cfg.name == "." || cfg.name == ".." ||
      std::any_of(cfg.name.begin(), cfg.name.end(),
                  [](char ch) { return ch == '/' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20; }))
    c.fail("name", quote(cfg.name) + " cannot be used as a file name (no '/', '\\', control characters, '.' or '..')");
  validate_model(cfg.model, c);
  validate_train(cfg.train, cfg.model, c);
  validate_data(cfg, c);
  validate_curriculum(cfg, c);
  validate_grpo(cfg, c);
}

std::string to_toml(const RunConfig& cfg) {
  std::string out = "# aha run configuration\n";
  std::string_view section;
  for_each_key(cfg, [&](std::string_view t, std::string_view k, const auto& v) {
    if (t != section) {
      out += "\n[" + std::string(t) + "]\n";
      section = t;
    }
    using T = std::remove_cvref_t<decltype(v)>;
    out += std::string(k) + " = ";
    if constexpr (std::is_same_v<T, std::string>) out += quote(v);
    else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      out += "[";
      for (size_t i = 0; i < v.size(); i++) out += (i ? ", " : "") + quote(v[i]);
      out += "]";
    } else if constexpr (std::is_same_v<T, bool>) out += v ? "true" : "false";
    else out += str(v);
    out += "\n";
  });
  return out;
}

std::vector<ConfigField> config_fields(const RunConfig& cfg) {
  std::vector<ConfigField> out;
  for_each_key(cfg, [&](std::string_view t, std::string_view k, const auto& v) {
    using T = std::remove_cvref_t<decltype(v)>;
    ConfigField f{std::string(t), std::string(k), "", ""};
    if constexpr (std::is_same_v<T, std::string>) f.type = "string", f.value = quote(v);
    else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      f.type = "strings";
      f.value = "[";
      for (size_t i = 0; i < v.size(); i++) f.value += (i ? ", " : "") + quote(v[i]);
      f.value += "]";
    } else if constexpr (std::is_same_v<T, bool>) f.type = "bool", f.value = v ? "true" : "false";
    else if constexpr (std::is_same_v<T, double>) f.type = "float", f.value = str(v);
    else f.type = "int", f.value = str(v);
    out.push_back(std::move(f));
  });
  return out;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : builtin_presets()) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace aha
