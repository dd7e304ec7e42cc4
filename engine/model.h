// The DeepSeek-V3-architecture model: embedding, pre-norm blocks (MLA + dense SwiGLU or
// DeepSeekMoE), final norm, untied head, and D Multi-Token-Prediction depths.
//
// Training: forward_backward() on a micro-batch accumulates gradients into params.grads.
// The loss is masked next-token cross-entropy + λ·mean_k MTP_k + α·balance, with a
// per-token mask so the same loop serves pretraining, SFT and GRPO.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/config.h"
#include "engine/layers.h"
#include "engine/params.h"
#include "kernels/cpu/ops.h"

namespace aha {

// One micro-batch. targets[b,t] is the token to predict after inputs[b,t]; mask[b,t]
// weighs that prediction in the loss (0 = not scored: prompt tokens in SFT, padding).
struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> inputs;   // [B,T]
  std::vector<int32_t> targets;  // [B,T]
  std::vector<float> mask;       // [B,T]
};

struct LossParts {
  double total = 0.0;            // lm + λ·mean(mtp) + balance
  double lm = 0.0;               // masked mean next-token cross-entropy
  std::vector<double> mtp;       // per depth, masked mean CE
  double balance = 0.0;          // α-weighted sequence-wise balance loss, summed over MoE layers
  double scored_tokens = 0.0;    // Σ mask
};

class Model {
 public:
  Model(const ModelConfig& cfg, kernels::Ops& ops);

  // Normal(0, initializer_range) weights, norms 1, biases 0; deterministic for a seed.
  void init_weights(uint64_t seed);
  // Forward and backward; gradients are ADDED to params.grads, scaled by loss_scale
  // (1/grad_accum for accumulation). Throws NumericError on a non-finite loss.
  LossParts forward_backward(const Batch& batch, float loss_scale = 1.0f);
  // Forward only.
  LossParts forward_loss(const Batch& batch);

  // A per-token objective on the main head (GRPO's policy loss): called with
  // logp[n] = log π(targets[n] | inputs[..n]) for every position (0 where mask[n] = 0),
  // it returns the loss and writes dL/dlogp[n] into dlogp (pre-sized [B·T], zeroed).
  // The MTP depths are not run; the balance loss still is.
  using TokenObjective = std::function<double(const std::vector<float>& logp, std::vector<float>& dlogp)>;
  // Forward, objective, backward; gradients ADDED (scaled by loss_scale). LossParts.lm holds
  // the objective's value. entropy (if given) receives the main head's per-position
  // entropy [B·T] in nats (0 where mask[n] = 0).
  LossParts forward_backward_objective(const Batch& batch, const TokenObjective& objective,
                                       float loss_scale = 1.0f, std::vector<float>* entropy = nullptr);
  // Forward only, main head: logp[n] as above (and entropy); expert loads are not counted.
  void token_logprobs(const Batch& batch, std::vector<float>& logp, std::vector<float>* entropy = nullptr);
  // Main-head logits [B·T, V] for tokens [B,T] (no MTP), through either MLA path.
  void logits(const int32_t* tokens, int B, int T, AttnPath path, std::vector<float>& out);
  // The absorbed path's KV cache from the last logits() call with AttnPath::Absorbed:
  // layer l holds [B·T, kv_lora_rank + qk_rope_head_dim] values.
  const std::vector<float>& absorbed_cache(int layer) const { return blocks_acts_[layer].mla.k; }

  // Auxiliary-loss-free balancing, after each optimiser step: b_i += γ·sign(mean − load_i)
  // over the tokens routed since the last call (the whole batch); then resets the loads.
  void update_router_bias();
  // Forgets the loads counted since the last update (after evaluation forwards).
  void reset_expert_load();
  // Tokens routed to each expert of each MoE layer since the last update_router_bias().
  std::vector<std::vector<int64_t>> expert_load() const;
  // Per MoE layer (MTP blocks numbered after the main layers, as in the checkpoint): its
  // layer index, the tokens routed to each expert since the last bias update, the bias.
  struct MoeLayerState { int layer; std::vector<int64_t> load; std::vector<float> bias; };
  std::vector<MoeLayerState> moe_state() const;

  // Incremental decoding with the absorbed MLA cache (kv_lora_rank + qk_rope_head_dim
  // values per token per layer). A cache holds B sequences of up to `capacity` tokens.
  struct DecodeCache {
    int B = 0, capacity = 0, T = 0;          // rows, room, tokens cached so far
    std::vector<std::vector<float>> layers;  // [L][B, capacity, kv_lora_rank + qk_rope_head_dim]
  };
  DecodeCache new_cache(int B, int capacity) const;
  // Feeds one token per row (tokens[B]) at position cache.T and returns the next-token
  // logits [B, V]; cache.T advances by one. InvalidArgument when the cache is full.
  void decode_step(DecodeCache& cache, const int32_t* tokens, std::vector<float>& logits);

  void zero_grad();
  size_t params_total() const { return params.trainable_total(); }
  size_t params_active() const;            // per token: shared + top-K routed experts
  double flops_per_token(int T) const;     // training (forward + backward) FLOPs per token
  // Decoding cache per token over all layers, in bytes of `elem_bytes` elements:
  // MLA's absorbed cache (kv_lora_rank + qk_rope_head_dim per layer) or the cache an
  // MHA model with the same heads would keep (heads · (qk_head_dim + v_head_dim)).
  double kv_bytes_per_token(bool mla, int elem_bytes = 2) const;

  const ModelConfig cfg;
  Params params;

 private:
  struct Mtp {
    size_t enorm = 0, hnorm = 0, eh_proj = 0, head_norm = 0;
    BlockWeights block;
  };
  struct MtpActs {
    std::vector<int32_t> tok, tgt;       // [N] input token (i+k) and target per position
    Buf mask;                            // [N]
    Buf emb, en, en_rstd, hn, hn_rstd, hp, hout, sh, sh_rstd, logits, loss, dloss;
    Buf dh, dtmp, dhout, demb;
    BlockActs block;
  };

  // objective / logp / entropy: the token-objective path (no MTP), see above.
  LossParts run(const Batch& batch, float loss_scale, bool backward, const TokenObjective* objective = nullptr,
                std::vector<float>* logp = nullptr, std::vector<float>* entropy = nullptr);
  void head_loss(const float* h, size_t norm_w, Buf& hn, Buf& rstd, Buf& logits, Buf& loss,
                 const int32_t* tgt, int N);

  kernels::Ops& ops_;
  size_t embed_ = 0, norm_ = 0, head_ = 0;
  std::vector<BlockWeights> blocks_;
  std::vector<Mtp> mtp_;
  // activations
  std::vector<Buf> xs_;                  // [L+1][N,d] block inputs; xs_[L] = last output
  std::vector<BlockActs> blocks_acts_;
  Buf hn_, hn_rstd_, logits_, loss_, dloss_, dh_, dtmp_;
  std::vector<MtpActs> mtp_acts_;
  std::vector<int> pos_;
};

}  // namespace aha
