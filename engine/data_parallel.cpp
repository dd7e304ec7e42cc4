#include "engine/data_parallel.h"

#include <omp.h>

#include <exception>

#include "engine/error.h"

namespace aha {

DataParallel::DataParallel(Model& master, kernels::Ops& ops, int replicas)
    : master_(master), ops_(ops), count_(replicas > 0 ? replicas : omp_get_max_threads()) {}

int DataParallel::replicas_for(int rows) const {
  if (master_.precision() != kernels::Precision::FP32) return 1;
  return std::max(1, std::min(rows, count_));
}

namespace {
// rows [r0, r1) of a batch
void slice(const Batch& b, int r0, int r1, Batch& out) {
  const size_t a = (size_t)r0 * b.T, e = (size_t)r1 * b.T;
  out.B = r1 - r0;
  out.T = b.T;
  out.inputs.assign(b.inputs.begin() + a, b.inputs.begin() + e);
  out.targets.assign(b.targets.begin() + a, b.targets.begin() + e);
  out.mask.assign(b.mask.begin() + a, b.mask.begin() + e);
  auto part = [&](const std::vector<int32_t>& v, std::vector<int32_t>& o) {
    if (v.empty()) o.clear(); else o.assign(v.begin() + a, v.begin() + e);
  };
  part(b.positions, out.positions);
  part(b.gap_begin, out.gap_begin);
  part(b.gap_end, out.gap_end);
}
}  // namespace

std::vector<Model*> DataParallel::models(int count) {
  count = std::max(1, std::min(count, count_));
  while ((int)replicas_.size() < count - 1) replicas_.push_back(std::make_unique<Model>(master_.cfg, ops_));
  std::vector<Model*> out{&master_};
  for (int r = 1; r < count; r++) {
    replicas_[r - 1]->params.share_weights(master_.params);  // the master's buffer may have been replaced
    out.push_back(replicas_[r - 1].get());
  }
  return out;
}

LossParts DataParallel::forward_backward(const Batch& batch, float loss_scale, bool zero_grads) {
  const int R = replicas_for(batch.B);
  if (R == 1) {
    if (zero_grads) master_.zero_grad();
    return master_.forward_backward(batch, loss_scale);
  }
  LossNorm norm = master_.loss_norm(batch);
  shards_.resize(R);
  std::vector<LossNorm> norms(R, norm);
  for (int r = 0; r < R; r++) {
    const int r0 = batch.B * r / R, r1 = batch.B * (r + 1) / R;
    slice(batch, r0, r1, shards_[r]);
    norms[r].rows_share = (double)(r1 - r0) / batch.B;
  }
  std::vector<LossParts> parts(R);
  std::vector<std::exception_ptr> errors(R);
  // replicas are built on first use: a stage that never steps (a resumed run past it)
  // allocates none
  const std::vector<Model*> ms = models(R);  // [master, replica 1, …], sharing its weights
  // One replica per thread; the kernels inside run on their calling thread (a nested
  // OpenMP region is inactive, and oneDNN runs sequentially inside a parallel region).
  // An exception must not cross the region: each is kept and the first rethrown after.
#pragma omp parallel for num_threads(R) schedule(static, 1)
  for (int r = 0; r < R; r++) {
    try {
      Model& m = *ms[r];
      if (r > 0 || zero_grads) m.zero_grad();  // on each model's own thread: the zeroing runs side by side
      parts[r] = m.forward_backward(shards_[r], loss_scale, &norms[r]);
    } catch (...) {
      errors[r] = std::current_exception();
    }
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  // the all-reduce: master += replica 1 + replica 2 ..., each element summed in replica order
  float* g = master_.params.grads.data();
  const size_t n = master_.params.grads.size();
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float s = g[i];
    for (int r = 1; r < R; r++) s += ms[r]->params.grads[i];
    g[i] = s;
  }
  LossParts out = parts[0];
  for (int r = 1; r < R; r++) {
    const LossParts& p = parts[r];
    out.total += p.total;
    out.lm += p.lm;
    out.balance += p.balance;
    out.scored_tokens += p.scored_tokens;
    for (size_t k = 0; k < out.mtp.size(); k++) out.mtp[k] += p.mtp[k];
    master_.take_expert_load(*ms[r]);
  }
  return out;
}

}  // namespace aha
