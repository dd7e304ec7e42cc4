#include "engine/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/tokenizer.h"

namespace aha {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Writes and fsyncs, so a checkpoint that is renamed into place holds its text files.
void write_text(const fs::path& p, const std::string& text) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) throw IoError("cannot write '" + p.string() + "': " + std::strerror(errno));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
                  ::fsync(::fileno(f)) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !ok) throw IoError("cannot write '" + p.string() + "': " + std::strerror(err));
}

// A directory path without a trailing separator ("ck/" → "ck"), so that sibling names
// such as "ck.partial" are siblings and not children.
fs::path clean_dir(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();
  return p;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw IoError("cannot open '" + p.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string hf_config_json(const ModelConfig& c) {
  json j;
  j["architectures"] = {"DeepseekV3ForCausalLM"};
  j["model_type"] = "deepseek_v3";
  j["torch_dtype"] = "float32";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["first_k_dense_replace"] = c.first_k_dense_replace;
  j["moe_layer_freq"] = 1;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_attention_heads;
  j["n_routed_experts"] = c.n_routed_experts;
  j["n_shared_experts"] = c.n_shared_experts;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["n_group"] = c.n_group;
  j["topk_group"] = c.topk_group;
  j["topk_method"] = "noaux_tc";
  j["routed_scaling_factor"] = c.routed_scaling_factor;
  j["scoring_func"] = c.scoring_func;
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["q_lora_rank"] = c.q_lora_rank > 0 ? json(c.q_lora_rank) : json(nullptr);
  j["kv_lora_rank"] = c.kv_lora_rank;
  j["qk_nope_head_dim"] = c.qk_nope_head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["v_head_dim"] = c.v_head_dim;
  j["num_nextn_predict_layers"] = c.num_nextn_predict_layers;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["rope_interleave"] = true;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["initializer_range"] = c.initializer_range;
  j["aux_loss_alpha"] = c.aux_loss_alpha;
  j["seq_aux"] = true;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  j["tie_word_embeddings"] = false;
  j["pad_token_id"] = Tokenizer::kPad;
  j["bos_token_id"] = Tokenizer::kBos;
  j["eos_token_id"] = Tokenizer::kEos;
  // training-time knobs that HF has no key for
  j["aha_bias_update_speed"] = c.bias_update_speed;
  j["aha_mtp_loss_weight"] = c.mtp_loss_weight;
  return j.dump(2);
}

ModelConfig read_hf_config(const std::string& path) {
  json j;
  try {
    j = json::parse(read_text(path));
  } catch (const json::exception& e) {
    throw FormatError(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw FormatError(path + ": expected a JSON object");
  ModelConfig c;
  auto get_int = [&](const char* k, int& dst) {
    if (!j.contains(k)) throw FormatError(path + ": missing key '" + std::string(k) + "'");
    if (!j[k].is_number_integer()) throw FormatError(path + ": key '" + std::string(k) + "' must be an integer");
    const int64_t v = j[k].get<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) throw FormatError(path + ": key '" + std::string(k) + "' is out of range");
    dst = (int)v;
  };
  auto get_num = [&](const char* k, double& dst) {
    if (!j.contains(k)) throw FormatError(path + ": missing key '" + std::string(k) + "'");
    if (!j[k].is_number()) throw FormatError(path + ": key '" + std::string(k) + "' must be a number");
    dst = j[k].get<double>();
  };
  get_int("vocab_size", c.vocab_size);
  get_int("hidden_size", c.hidden_size);
  get_int("intermediate_size", c.intermediate_size);
  get_int("moe_intermediate_size", c.moe_intermediate_size);
  get_int("num_hidden_layers", c.num_hidden_layers);
  get_int("first_k_dense_replace", c.first_k_dense_replace);
  get_int("num_attention_heads", c.num_attention_heads);
  get_int("n_routed_experts", c.n_routed_experts);
  get_int("n_shared_experts", c.n_shared_experts);
  get_int("num_experts_per_tok", c.num_experts_per_tok);
  get_int("n_group", c.n_group);
  get_int("topk_group", c.topk_group);
  get_num("routed_scaling_factor", c.routed_scaling_factor);
  if (!j.contains("scoring_func") || !j["scoring_func"].is_string())
    throw FormatError(path + ": key 'scoring_func' must be a string");
  c.scoring_func = j["scoring_func"].get<std::string>();
  if (!j.contains("norm_topk_prob") || !j["norm_topk_prob"].is_boolean())
    throw FormatError(path + ": key 'norm_topk_prob' must be true or false");
  c.norm_topk_prob = j["norm_topk_prob"].get<bool>();
  if (j.contains("q_lora_rank") && j["q_lora_rank"].is_null()) c.q_lora_rank = 0;
  else get_int("q_lora_rank", c.q_lora_rank);
  get_int("kv_lora_rank", c.kv_lora_rank);
  get_int("qk_nope_head_dim", c.qk_nope_head_dim);
  get_int("qk_rope_head_dim", c.qk_rope_head_dim);
  get_int("v_head_dim", c.v_head_dim);
  get_int("num_nextn_predict_layers", c.num_nextn_predict_layers);
  get_num("rope_theta", c.rope_theta);
  get_num("rms_norm_eps", c.rms_norm_eps);
  get_int("max_position_embeddings", c.max_position_embeddings);
  if (j.contains("initializer_range")) get_num("initializer_range", c.initializer_range);
  if (j.contains("aux_loss_alpha")) get_num("aux_loss_alpha", c.aux_loss_alpha);
  if (j.contains("aha_bias_update_speed")) get_num("aha_bias_update_speed", c.bias_update_speed);
  if (j.contains("aha_mtp_loss_weight")) get_num("aha_mtp_loss_weight", c.mtp_loss_weight);
  return c;
}

RunConfig read_checkpoint_config(const std::string& dir) {
  const fs::path d(dir);
  if (!fs::is_directory(d)) throw IoError("checkpoint '" + dir + "' is not a directory");
  if (fs::exists(d / "run.toml")) {
    RunConfig rc = parse_config(read_text(d / "run.toml"), (d / "run.toml").string());
    ModelConfig hf = read_hf_config((d / "config.json").string());
    if (hf_config_json(hf) != hf_config_json(rc.model))
      throw FormatError(dir + ": config.json and run.toml describe different models");
    return rc;
  }
  RunConfig rc;
  rc.model = read_hf_config((d / "config.json").string());
  rc.origin = (d / "config.json").string();
  rc.train.seq_len = std::min(rc.train.seq_len, rc.model.max_position_embeddings);
  validate(rc);
  return rc;
}

void save_checkpoint(const std::string& dir, const RunConfig& cfg, const Model& model,
                     const AdamW* opt, const TrainState* state) {
  const fs::path target = clean_dir(dir);
  const fs::path tmp = target.string() + ".partial";
  const fs::path old = target.string() + ".old";
  std::error_code ec;
  // A save that died between its two renames left only "<dir>.old": that is the last
  // complete copy, so put it back before anything else.
  if (!fs::exists(target) && fs::exists(old)) fs::rename(old, target, ec);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw IoError("cannot create checkpoint directory '" + tmp.string() + "': " + ec.message());
  try {
    write_text(tmp / "config.json", hf_config_json(cfg.model));
    write_text(tmp / "tokenizer.json", Tokenizer().to_json());
    write_text(tmp / "run.toml", to_toml(cfg));
    std::vector<TensorToWrite> ts;
    for (const ParamInfo& p : model.params.infos)
      ts.push_back({p.name, DType::F32, p.shape, model.params.w(p.offset)});
    write_safetensors((tmp / "model.safetensors").string(), ts, {{"format", "pt"}});
    if (opt) {
      std::vector<TensorToWrite> os;
      for (const ParamInfo& p : model.params.infos) {
        if (!p.trainable) continue;
        os.push_back({p.name + ".exp_avg", DType::F32, p.shape, opt->m.data() + p.offset});
        os.push_back({p.name + ".exp_avg_sq", DType::F32, p.shape, opt->v.data() + p.offset});
      }
      std::map<std::string, std::string> meta{{"adam_t", std::to_string(opt->t)}};
      if (state) {
        meta["step"] = std::to_string(state->step);
        for (int i = 0; i < 4; i++) meta["rng" + std::to_string(i)] = std::to_string(state->rng[i]);
      }
      write_safetensors((tmp / "optimizer.safetensors").string(), os, meta);
    }
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // Swap into place: an existing checkpoint of the same name is replaced only now, and is
  // kept as "<dir>.old" until the new one is in place (restored above after a crash).
  fs::remove_all(old, ec);
  const bool had_target = fs::exists(target);
  if (had_target) {
    fs::rename(target, old, ec);
    if (ec) {
      fs::remove_all(tmp, ec);
      throw IoError("cannot replace checkpoint '" + target.string() + "': " + ec.message());
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    const std::string msg = ec.message();
    if (had_target) fs::rename(old, target, ec);  // roll back to the previous checkpoint
    fs::remove_all(tmp, ec);
    throw IoError("cannot move checkpoint into '" + target.string() + "': " + msg);
  }
  if (int fd = ::open(target.parent_path().empty() ? "." : target.parent_path().c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);  // make the renames durable
    ::close(fd);
  }
  fs::remove_all(old, ec);
}

void load_weights(const std::string& dir, Model& model) {
  const fs::path d(dir);
  if (fs::exists(d / "tokenizer.json"))
    Tokenizer::check_json(read_text(d / "tokenizer.json"), (d / "tokenizer.json").string());
  SafetensorsFile f = SafetensorsFile::read((d / "model.safetensors").string());
  std::vector<std::string> names;
  for (const ParamInfo& p : model.params.infos) names.push_back(p.name);
  f.expect_exactly(names);
  for (const ParamInfo& p : model.params.infos) {
    std::vector<float> v = f.get_f32(p.name, p.shape);
    std::copy(v.begin(), v.end(), model.params.w(p.offset));
  }
}

void load_optimizer(const std::string& dir, const Model& model, AdamW& opt, TrainState& state) {
  const std::string path = (fs::path(dir) / "optimizer.safetensors").string();
  SafetensorsFile f = SafetensorsFile::read(path);
  std::vector<std::string> names;
  for (const ParamInfo& p : model.params.infos)
    if (p.trainable) { names.push_back(p.name + ".exp_avg"); names.push_back(p.name + ".exp_avg_sq"); }
  f.expect_exactly(names);
  for (const ParamInfo& p : model.params.infos) {
    if (!p.trainable) continue;
    std::vector<float> m = f.get_f32(p.name + ".exp_avg", p.shape);
    std::vector<float> v = f.get_f32(p.name + ".exp_avg_sq", p.shape);
    std::copy(m.begin(), m.end(), opt.m.data() + p.offset);
    std::copy(v.begin(), v.end(), opt.v.data() + p.offset);
  }
  auto meta = [&](const std::string& k) -> std::string {
    auto it = f.metadata().find(k);
    if (it == f.metadata().end()) throw FormatError(path + ": metadata key '" + k + "' missing");
    return it->second;
  };
  auto number = [&](const std::string& k) -> uint64_t {
    const std::string v = meta(k);
    if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos)
      throw FormatError(path + ": metadata '" + k + "' must be a non-negative integer, got '" + v + "'");
    try {
      return std::stoull(v);
    } catch (const std::logic_error&) {
      throw FormatError(path + ": metadata '" + k + "' is out of range");
    }
  };
  opt.t = (int64_t)number("adam_t");
  state.step = (int64_t)number("step");
  for (int i = 0; i < 4; i++) state.rng[i] = number("rng" + std::to_string(i));
  if (opt.t < 0 || state.step < 0 || (state.rng[0] | state.rng[1] | state.rng[2] | state.rng[3]) == 0)
    throw FormatError(path + ": optimizer state is not valid (negative counts or an all-zero RNG state)");
}

}  // namespace aha
