#include "engine/optim.h"
#include "kernels/cpu/precision_ops.h"

#include <cmath>

#include "engine/error.h"

namespace aha {

double learning_rate(const TrainConfig& t, int step) {
  if (t.warmup_steps > 0 && step < t.warmup_steps) return t.lr * (step + 1) / t.warmup_steps;
  if (t.lr_schedule == "constant") return t.lr;
  const int end = t.decay_steps > 0 ? t.decay_steps : t.steps;  // min_lr from here on
  const int decay = std::max(1, end - t.warmup_steps);
  const double progress = std::min(1.0, (double)(step - t.warmup_steps) / decay);
  return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1.0 + std::cos(M_PI * progress));
}

double AdamW::step(kernels::Ops& ops, Params& p, const TrainConfig& tc, double lr) {
  if (segments_.empty())
    for (const ParamInfo& info : p.infos) {
      if (!info.trainable) continue;
      const double scale = info.name == "lm_head.weight" ? tc.head_lr_scale : 1.0;
      Segment* last = segments_.empty() ? nullptr : &segments_.back();
      if (last && last->decay == info.decay && last->lr_scale == scale && last->offset + last->numel == info.offset)
        last->numel += info.numel;
      else
        segments_.push_back({info.offset, info.numel, info.decay, scale});
    }
  double ss = 0.0;
  for (const Segment& sg : segments_) ss += ops.sumsq(p.g(sg.offset), sg.numel);
  const double norm = std::sqrt(ss);
  if (!std::isfinite(norm))
    throw NumericError("gradient norm is not finite; the step was skipped and the weights kept");
  const float clip = (tc.grad_clip > 0 && norm > tc.grad_clip) ? (float)(tc.grad_clip / norm) : 1.0f;
  t++;
  const float bc1 = 1.0f - (float)std::pow(tc.beta1, (double)t);
  const float bc2 = 1.0f - (float)std::pow(tc.beta2, (double)t);
  for (const Segment& sg : segments_)
    ops.adamw(p.w(sg.offset), p.g(sg.offset), m.data() + sg.offset, v.data() + sg.offset,
              sg.numel, (float)(lr * sg.lr_scale), (float)tc.beta1, (float)tc.beta2, (float)tc.adam_eps,
              sg.decay ? (float)tc.weight_decay : 0.0f, bc1, bc2, clip);
  if (tc.adam_moments == "bf16") {
    // V3 keeps AdamW's moments in BF16: store them rounded (the update above used the
    // previous BF16 values, as a BF16-stored optimiser would)
    for (float& x : m) x = kernels::round_bf16(x);
    for (float& x : v) x = kernels::round_bf16(x);
  }
  return norm;
}

}  // namespace aha
