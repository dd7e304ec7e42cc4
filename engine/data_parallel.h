// Data parallelism over the cores of one machine: one model replica per worker thread,
// each running forward and backward on its share of a batch's rows with single-threaded
// kernels, then the replicas' weight gradients summed into the master's in a fixed order.
// This is the shape data parallelism across GPUs will take (a replica per device, the sum
// an NCCL all-reduce); on CPU it wins because the small GEMMs of a `tiny` step run
// closer to a core's peak whole on one core than split across two (measured: two
// single-threaded processes on half the batch each, 195 ms per step, against 233 ms for
// one process on both cores).
//
// Exactness: every shard is normalised by the whole batch's loss denominators
// (Model::loss_norm), so the sum of the shards' losses and gradients is the loss and
// gradient of one pass over all rows, up to float summation order. For a given thread
// count results are bit-identical run to run.
#pragma once
#include <memory>
#include <vector>

#include "engine/model.h"

namespace aha {

class DataParallel {
 public:
  // replicas = 0: one per OpenMP thread. The master is replica 0; the others, built on
  // first use, share its weights (Params::share_weights) and keep their own gradients
  // and activations.
  DataParallel(Model& master, kernels::Ops& ops, int replicas = 0);

  // Replicas a batch of `rows` rows would use: min(replicas, rows), or 1 where sharding
  // does not apply (a precision other than FP32: its per-layer quantisation statistics
  // live in each model's precision backend).
  int replicas_for(int rows) const;
  // Model::forward_backward of `batch`, its rows split into contiguous shards; the
  // gradients are ADDED to the master's (scaled by loss_scale), and the expert loads the
  // replicas counted are moved to the master (for update_router_bias and expert_load).
  // zero_grads: the master's gradients are zeroed first (a step's first micro-batch), on
  // the master's own worker thread while the replicas zero theirs — a 17 MB memset for
  // `tiny` that, run before the call, left the other core idle (~1.5 ms a step).
  LossParts forward_backward(const Batch& batch, float loss_scale = 1.0f, bool zero_grads = false);
  // The master and count − 1 replicas (built on first use), every replica sharing the
  // master's current weights: what data-parallel generation decodes with (one model per
  // thread, sample_batch_parallel). count is clamped to [1, replicas].
  std::vector<Model*> models(int count);

 private:
  Model& master_;
  kernels::Ops& ops_;
  int count_;                                     // replicas, the master included
  std::vector<std::unique_ptr<Model>> replicas_;  // replicas 1 .. R-1 built so far
  std::vector<Batch> shards_;
};

}  // namespace aha
