// Run configuration: the model (Hugging Face DeepseekV3Config names), training
// and data sections of a TOML file. Parsing is strict: an unknown key, a wrong
// type, an out-of-range or inconsistent value throws ConfigError naming the key
// and the rule. The CLI and the studio share this one validator.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

struct ModelConfig {
  int vocab_size = 264;               // tokenizer size (8 specials + 256 bytes) or more
  int hidden_size = 256;              // d
  int intermediate_size = 512;        // dense SwiGLU width (first_k_dense_replace layers)
  int moe_intermediate_size = 64;     // width of one expert
  int num_hidden_layers = 6;
  int first_k_dense_replace = 1;      // the first k layers are dense
  int num_attention_heads = 4;        // n_h
  int n_routed_experts = 8;           // N_r (0 = every layer dense)
  int n_shared_experts = 1;           // N_s
  int num_experts_per_tok = 2;        // K_r
  int n_group = 2;                    // expert groups
  int topk_group = 1;                 // groups kept per token
  double routed_scaling_factor = 1.0;
  std::string scoring_func = "sigmoid";  // "sigmoid" | "softmax"
  bool norm_topk_prob = true;
  int q_lora_rank = 128;              // 0 = plain q_proj
  int kv_lora_rank = 64;              // d_c
  int qk_nope_head_dim = 32;          // d_h
  int qk_rope_head_dim = 16;          // d_h^R (even)
  int v_head_dim = 32;                // d_v
  int num_nextn_predict_layers = 1;   // MTP depth D (0 = off)
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  int max_position_embeddings = 2048;
  double initializer_range = 0.02;
  // Training-time knobs of the architecture (not in HF's config.json keys).
  double aux_loss_alpha = 1e-4;       // α, sequence-wise balance loss
  double bias_update_speed = 1e-3;    // γ, aux-loss-free bias step
  double mtp_loss_weight = 0.3;       // λ

  bool is_moe_layer(int layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace;
  }
  int qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
};

struct TrainConfig {
  uint64_t seed = 1234;
  int batch_size = 8;                 // sequences per micro-batch
  int seq_len = 256;                  // tokens per sequence
  int grad_accum = 1;                 // micro-batches per optimizer step
  int steps = 300;                    // optimizer steps
  double lr = 3e-3;                   // peak learning rate
  double min_lr = 3e-4;               // cosine floor
  int warmup_steps = 20;
  std::string lr_schedule = "cosine"; // "cosine" | "constant"
  // cosine: the step at which the decay reaches min_lr; the rate stays there after it
  // (0 = the last step)
  int decay_steps = 0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double adam_eps = 1e-8;
  double weight_decay = 0.1;          // not applied to norms and biases
  double grad_clip = 1.0;             // global norm; 0 = off
  int threads = 0;                    // 0 = all cores
  int log_every = 10;
  int checkpoint_every = 0;           // 0 = only at the end
  // Held-out curriculum problems answered greedily at every evaluation of pretraining and
  // SFT: streamed live (the chain of thought as the model writes it) and stored as eval
  // traces, so one can watch reasoning form before RL. 0 = off.
  int eval_samples = 2;
  // Precision of the Linear layers' GEMMs (DeepSeek-V3 §3.3): "fp32", "bf16" (inputs
  // rounded to BF16) or "fp8" (E4M3 inputs, 1×128 activation tiles, 128×128 weight
  // blocks, FP32 accumulation). Embedding, head, norms, gating and attention stay FP32.
  std::string precision = "fp32";
  bool fp8_pow2_scales = false;       // FP8 scales rounded up to powers of two
  std::string adam_moments = "fp32";  // "bf16": AdamW moments stored in BF16 (as V3)
  double head_lr_scale = 1.0;         // learning-rate multiplier of lm_head (set by [grpo])
};

struct DataConfig {
  // "synthetic" (built-in corpus), "curriculum" (the reasoning curriculum of [curriculum],
  // generated on the fly) or a path to a UTF-8 text file (e.g. `aha data`'s pretrain.txt).
  std::string source = "synthetic";
  uint64_t synthetic_bytes = 2000000;  // size of the generated corpus
  double eval_fraction = 0.05;         // held-out tail of the corpus
};

// The generated reasoning curriculum (engine/curriculum.h): which tasks, how hard, in
// which languages, how often a trace switches language or corrects itself.
struct CurriculumConfig {
  uint64_t seed = 7;
  double weight_arithmetic = 0.6, weight_countdown = 0.25, weight_linear = 0.15;  // task mix
  int difficulty_arithmetic = 2;  // digits per operand
  int difficulty_countdown = 1;   // 1: 3 numbers ≤ 20; 2: 3 numbers ≤ 50; 3: 4 numbers
  int difficulty_linear = 1;      // coefficient magnitude
  double zh_fraction = 0.3;       // share of pretraining traces reasoned in Chinese
  double code_switch = 0.05;      // per-step probability of switching language mid-trace
  double self_correction = 0.15;  // share of traces with a caught mistake ("Wait, let me recheck")
  // How a column with an incoming carry or borrow is worked: "sum" = one three-operand
  // fact ("4 + 3 + 1 = 8"), "two_facts" = one two-operand fact per clause ("4 + 3 = 7,
  // 7 + 1 = 8"; README, curriculum section, session 8).
  std::string carry_style = "sum";
  // Share of pretraining documents that carry the whole R1 template; the others carry only
  // its last line ("User: QUESTION. Assistant:"), so the same tokens hold ~3x the problems.
  double template_fraction = 0.25;
  int pretrain_problems = 40000;  // problems in the pretraining corpus
  int sft_problems = 3000;        // cold-start SFT set (English, reasoning then summary)
  int rl_problems = 3000;         // RL prompt set
  int eval_problems = 200;        // per task, held out (disjoint by problem)
  double eval_fraction = 0.1;     // share of problem space reserved for eval
};

// Supervised fine-tuning stage (loss only on completion tokens), run after pretraining
// when steps > 0.
struct SftConfig {
  int steps = 0;                  // 0 = no SFT stage
  double lr = 1e-3;
  int batch_size = 8;
  int seq_len = 640;              // prompt (R1 template) + completion, padded
  std::string source = "curriculum";  // "curriculum" (cold-start set) or a JSONL path from `aha data`
};

// Reinforcement learning with GRPO ([grpo]), run after pretraining and SFT when
// steps > 0. Names follow TRL / verl where they exist (engine/grpo.h has the formulas).
struct GrpoConfig {
  int steps = 0;                  // 0 = no GRPO stage
  std::string task = "countdown"; // the RL task (its train split; eval stays held out)
  int difficulty = 0;             // 0 = the curriculum's difficulty for that task
  int prompts_per_step = 4;       // P, prompts per generation batch
  int group_size = 8;             // G, completions per prompt
  int updates_per_batch = 1;      // μ, policy updates per generation batch
  int micro_batch = 8;            // completions per forward/backward (memory, not maths)
  bool pack_prompts = true;       // a prompt once per row, then its completions (engine/grpo_pack.h)
  // With beta = 0 a completion whose advantage is 0 (a group whose rewards all agree) has
  // zero policy gradient: its forward/backward is skipped, as is a completion masked out
  // by mask_truncated (any beta). Only their share of the α balance loss is lost; the
  // aggregation's denominators still count the zero-advantage ones.
  bool skip_zero_advantage = true;
  double lr = 2e-4;               // constant after warm-up
  int warmup_steps = 5;
  double epsilon_low = 0.2;       // ratio clipped to [1 − ε_low, 1 + ε_high]
  double epsilon_high = 0.28;     // DAPO's clip-higher
  double beta = 0.0;              // KL coefficient to the frozen reference (0 = no reference)
  std::string advantage = "group";            // "group" | "dr_grpo"
  bool scale_batch = false;                   // also divide advantages by the batch std
  std::string loss_agg = "seq-mean-token-mean";  // | "token-mean" | "seq-mean-token-sum-norm"
  int max_new_tokens = 160;
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;
  bool dynamic_sampling = false;  // drop groups whose rewards all agree and draw new prompts
  int max_resample = 4;           // dynamic sampling: extra generation rounds at most
  bool mask_truncated = false;    // completions cut at max_new_tokens get no loss
  double reward_accuracy = 1.0;   // weights of the combined reward
  double reward_format = 0.1;
  double reward_language = 0.0;   // R1's language-consistency reward (target: English)
  bool tinyzero = false;          // TinyZero's Countdown scoring instead (1 / 0.1 / 0)
  int eval_problems = 50;         // held-out problems scored (greedy) every log interval; 0 = off
  double head_lr_scale = 1.0;     // learning-rate multiplier of the output head (lm_head)
};

struct RunConfig {
  std::string name = "run";
  ModelConfig model;
  TrainConfig train;
  DataConfig data;
  CurriculumConfig curriculum;
  SftConfig sft;
  GrpoConfig grpo;
  std::string origin;  // where it was loaded from (preset name or file path), for messages
  // Labels of a run (set by `aha train --tag/--notes`, stored in the run database, not in TOML).
  std::vector<std::string> tags;
  std::string notes;
};

// Parses TOML text; `origin` names the source in error messages. Throws ConfigError.
RunConfig parse_config(const std::string& toml_text, const std::string& origin);
// Loads a preset by name ("tiny") or a TOML file by path. Throws ConfigError / IoError.
RunConfig load_config(const std::string& preset_or_path);
// Applies "table.key=value" assignments (`aha train --set`), each read with the same
// strictness as the file (a string value may be given without quotes), then validates.
// ConfigError names the assignment.
RunConfig apply_overrides(RunConfig cfg, const std::vector<std::string>& assignments);
// Checks every rule; throws ConfigError naming the key and the rule.
void validate(const RunConfig& cfg);
// Serialises back to TOML (round-trips through parse_config).
std::string to_toml(const RunConfig& cfg);
// Names of the built-in presets.
std::vector<std::string> preset_names();

// Every configurable key with its current value as TOML text, in file order: what the
// studio's launcher builds its form from (edits go back through apply_overrides, so the
// form and `aha train --set` share one validation).
struct ConfigField {
  std::string table;  // "" for top-level keys
  std::string key;
  std::string type;   // "int" | "float" | "bool" | "string" | "strings"
  std::string value;  // TOML text: 3, 0.001, true, "cosine", ["a", "b"]
};
std::vector<ConfigField> config_fields(const RunConfig& cfg);

}  // namespace aha
