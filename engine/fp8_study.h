// `aha fp8 study`: why DeepSeek-V3 promotes FP8 partial sums to FP32 every 128 elements.
// For each K, random A [m, K] (1×128 tiles) and B [n, K] (128×128 blocks) are quantised to
// E4M3 and multiplied three ways (kernels/cpu/fp8_gemm.h: fp32, limited, promote128); each
// output is compared with the FP64 product of the same quantised inputs.
//
// Relative error of an output: |c − r| / Σ_k |a_k·b_k| — the error over the size of the
// terms summed. For inputs of one sign (the default, "uniform": U(0,1)) it is exactly
// |c − r| / |r|; with "normal" inputs (N(0,1), mixed signs) it does not blow up where
// cancellation makes r small.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

struct Fp8StudyRow {
  int k = 0;
  std::string mode;  // "promote128" | "limited" | "fp32"
  double max_rel_error = 0, mean_rel_error = 0;
};

struct Fp8StudyConfig {
  std::vector<int> ks = {128, 256, 512, 1024, 2048, 4096, 8192, 16384};
  int m = 32, n = 32;
  uint64_t seed = 1;
  std::string inputs = "uniform";  // "uniform" U(0,1) | "normal" N(0,1)
  int acc_bits = 13;               // fraction bits the limited accumulator keeps (H800: 13)
};

// InvalidArgument for K < 1, m or n < 1, acc_bits outside 4..23, unknown inputs.
std::vector<Fp8StudyRow> fp8_accumulation_study(const Fp8StudyConfig& c);
std::string fp8_study_json(const std::vector<Fp8StudyRow>& rows);

}  // namespace aha
