#include "engine/params.h"

#include "engine/error.h"

namespace aha {

size_t Params::add(const std::string& name, std::vector<int64_t> shape, bool decay, bool trainable) {
  AHA_CHECK(weights.empty(), "Params::add after allocate: " + name);
  size_t n = 1;
  for (int64_t d : shape) n *= (size_t)d;
  infos.push_back({name, std::move(shape), total_, n, decay, trainable});
  total_ += n;
  return total_ - n;
}

void Params::allocate() {
  weights.assign(total_, 0.0f);
  grads.assign(total_, 0.0f);
}

void Params::share_weights(const Params& master) {
  AHA_CHECK(master.total_ == total_ && master.weights.size() == total_ && master.infos.size() == infos.size(),
            "Params::share_weights: the master's layout differs");
  weights.clear();
  weights.shrink_to_fit();
  shared_ = const_cast<float*>(master.weights.data());  // a replica only reads weights
}

const ParamInfo* Params::find(const std::string& name) const {
  for (const auto& p : infos)
    if (p.name == name) return &p;
  return nullptr;
}

size_t Params::trainable_total() const {
  size_t n = 0;
  for (const auto& p : infos)
    if (p.trainable) n += p.numel;
  return n;
}

}  // namespace aha
