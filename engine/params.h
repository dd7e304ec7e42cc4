// All of a model's tensors in one FP32 buffer, each named with its Hugging Face
// DeepSeek-V3 name. One buffer means the optimiser, gradient clipping and
// checkpointing are single loops, and a parameter is an offset.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

struct ParamInfo {
  std::string name;              // HF name, e.g. "model.layers.3.mlp.experts.5.down_proj.weight"
  std::vector<int64_t> shape;
  size_t offset = 0;             // into Params::w / Params::g
  size_t numel = 0;
  bool decay = true;             // AdamW weight decay (off for norms)
  bool trainable = true;         // false: a buffer (the router's correction bias)
};

class Params {
 public:
  // Registers a tensor and returns its offset. Tensors are laid out in call order,
  // so a [2I, d] gate+up pair registered back to back is one contiguous GEMM operand.
  size_t add(const std::string& name, std::vector<int64_t> shape, bool decay = true,
             bool trainable = true);
  void allocate();               // sizes w and g once all tensors are registered
  // A data-parallel replica (engine/data_parallel.h): read `master`'s weights (same layout)
  // instead of holding its own; gradients stay its own. Call again whenever the master's
  // buffer may have moved. Throws InternalError on a layout mismatch.
  void share_weights(const Params& master);
  float* w(size_t off) { return (shared_ ? shared_ : weights.data()) + off; }
  const float* w(size_t off) const { return (shared_ ? shared_ : weights.data()) + off; }
  float* g(size_t off) { return grads.data() + off; }
  const ParamInfo* find(const std::string& name) const;
  size_t total() const { return total_; }
  size_t trainable_total() const;

  std::vector<ParamInfo> infos;
  std::vector<float> weights;
  std::vector<float> grads;

 private:
  size_t total_ = 0;
  float* shared_ = nullptr;      // the master's weights (a replica), or null
};

}  // namespace aha
