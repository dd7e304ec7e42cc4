#include "engine/fp8_study.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/rng.h"
#include "kernels/cpu/fp8_gemm.h"

namespace aha {

std::vector<Fp8StudyRow> fp8_accumulation_study(const Fp8StudyConfig& c) {
  using namespace kernels;
  if (c.m < 1 || c.n < 1) throw InvalidArgument("fp8 study: m and n must be >= 1");
  if (c.acc_bits < 4 || c.acc_bits > 23) throw InvalidArgument("fp8 study: acc_bits must be in 4..23");
  if (c.inputs != "uniform" && c.inputs != "normal")
    throw InvalidArgument("fp8 study: inputs must be \"uniform\" or \"normal\", got \"" + c.inputs + "\"");
  std::vector<Fp8StudyRow> out;
  for (int K : c.ks) {
    if (K < 1) throw InvalidArgument("fp8 study: K must be >= 1, got " + std::to_string(K));
    Rng rng(c.seed * 1000003ull + (uint64_t)K);
    std::vector<float> a((size_t)c.m * K), b((size_t)c.n * K);
    for (float& v : a) v = c.inputs == "uniform" ? (float)rng.uniform() : (float)rng.normal();
    for (float& v : b) v = c.inputs == "uniform" ? (float)rng.uniform() : (float)rng.normal();
    const Fp8Tiles A = fp8_quantize(a.data(), c.m, K, 1, 128);    // activations: 1×128
    const Fp8Tiles B = fp8_quantize(b.data(), c.n, K, 128, 128);  // weights: 128×128
    std::vector<double> ref((size_t)c.m * c.n), mag((size_t)c.m * c.n, 0.0);
    fp8_gemm_reference(A, B, ref.data());
    for (int i = 0; i < c.m; i++)
      for (int j = 0; j < c.n; j++)
        for (int k = 0; k < K; k++) mag[(size_t)i * c.n + j] += std::fabs((double)A.value(i, k) * B.value(j, k));
    for (Fp8Accum mode : {Fp8Accum::Promote, Fp8Accum::Limited, Fp8Accum::Fp32}) {
      std::vector<float> C((size_t)c.m * c.n);
      fp8_gemm(A, B, C.data(), mode, c.acc_bits);
      Fp8StudyRow row{K, fp8_accum_name(mode), 0, 0};
      for (size_t i = 0; i < C.size(); i++) {
        const double e = mag[i] > 0 ? std::fabs((double)C[i] - ref[i]) / mag[i] : 0.0;
        row.max_rel_error = std::max(row.max_rel_error, e);
        row.mean_rel_error += e / (double)C.size();
      }
      out.push_back(row);
    }
  }
  return out;
}

std::string fp8_study_json(const std::vector<Fp8StudyRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows)
    j.push_back({{"k", r.k}, {"mode", r.mode}, {"max_rel_error", r.max_rel_error}, {"mean_rel_error", r.mean_rel_error}});
  return j.dump();
}

}  // namespace aha
