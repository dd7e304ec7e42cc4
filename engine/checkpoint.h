// Checkpoints other tools can read: a directory with
//   config.json          Hugging Face DeepseekV3Config keys (model_type "deepseek_v3")
//   model.safetensors    the weights under their HF DeepSeek-V3 names, F32
//   tokenizer.json       the vocabulary (engine/tokenizer.h)
//   run.toml             the full run configuration (model, train, data)
//   optimizer.safetensors  AdamW moments (<name>.exp_avg / .exp_avg_sq) and, in its
//                        metadata, the step, the optimiser's update count and the data
//                        sampler's RNG state: everything an exact resume needs.
// Writing goes to a temporary directory renamed into place, so a checkpoint directory
// is either complete or absent.
#pragma once
#include <cstdint>
#include <string>

#include "engine/config.h"
#include "engine/model.h"
#include "engine/optim.h"

namespace aha {

struct TrainState {
  int64_t step = 0;            // optimiser steps done
  uint64_t rng[4] = {0, 0, 0, 0};
};

// Writes config.json, model.safetensors, tokenizer.json, run.toml and, when `opt` is
// given, optimizer.safetensors. Throws IoError.
void save_checkpoint(const std::string& dir, const RunConfig& cfg, const Model& model,
                     const AdamW* opt = nullptr, const TrainState* state = nullptr);

// The HF config.json text for a model config.
std::string hf_config_json(const ModelConfig& c);
// Reads config.json back into a ModelConfig (strict: FormatError names the key).
ModelConfig read_hf_config(const std::string& path);
// Reads a checkpoint's run config: run.toml when present, else config.json + defaults.
RunConfig read_checkpoint_config(const std::string& dir);
// Loads weights into a model built from read_checkpoint_config(dir).model. The set of
// tensor names and every shape must match exactly (FormatError names the tensor).
void load_weights(const std::string& dir, Model& model);
// Loads the optimiser state and train state; FormatError when absent or mismatched.
void load_optimizer(const std::string& dir, const Model& model, AdamW& opt, TrainState& state);

}  // namespace aha
