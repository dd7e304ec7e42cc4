// AdamW with FP32 master weights and moments, global-norm clipping, and the learning-rate
// schedule (linear warmup, then cosine to min_lr or constant). Norms and buffers get no
// weight decay; buffers (the router bias) are not touched at all.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/config.h"
#include "engine/params.h"
#include "kernels/cpu/ops.h"

namespace aha {

double learning_rate(const TrainConfig& t, int step);  // step counts from 0

class AdamW {
 public:
  explicit AdamW(const Params& p) : m(p.total(), 0.0f), v(p.total(), 0.0f) {}
  // One update with the current grads; returns the global grad norm before clipping.
  // Throws NumericError (and leaves the weights untouched) when a gradient is not finite.
  double step(kernels::Ops& ops, Params& p, const TrainConfig& t, double lr);

  std::vector<float> m, v;  // first and second moments, one per weight
  int64_t t = 0;            // updates done

 private:
  // Runs of neighbouring tensors with the same treatment (decay or not, learning-rate
  // multiplier), so the update is a few long loops instead of one call per tensor.
  struct Segment { size_t offset, numel; bool decay; double lr_scale; };
  std::vector<Segment> segments_;
};

}  // namespace aha
