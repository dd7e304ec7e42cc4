// FP8: conversion bit-identical to CUDA's, fine-grained block quantisation, the emulated
// FP8 GEMM against an FP64 product, and the accumulation study's trend.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/error.h"
#include "engine/fp8_study.h"
#include "kernels/cpu/fp8.h"
#include "kernels/cpu/fp8_gemm.h"
#ifdef AHA_HAVE_CUDA_FP8
#include <cuda_fp8.h>
#endif

namespace aha::kernels {
namespace {

float from_bits(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }

TEST(Fp8Convert, MatchesCudaOnTheGoldenCases) {
  // tests/data/fp8_golden.txt was written by cuda_fp8.h's own host conversion
  // (tests/fp8_golden_gen.cpp): every FP8 value, its neighbours, every rounding tie,
  // saturation, NaN and infinities, random floats.
  std::ifstream in(AHA_SOURCE_DIR "/tests/data/fp8_golden.txt");
  ASSERT_TRUE(in.is_open());
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    unsigned u, e4, e5;
    ASSERT_EQ(std::sscanf(line.c_str(), "%x %x %x", &u, &e4, &e5), 3) << line;
    const float x = from_bits(u);
    ASSERT_EQ(fp8_from_float(x, Fp8Format::E4M3), e4) << line << " (" << x << ")";
    ASSERT_EQ(fp8_from_float(x, Fp8Format::E5M2), e5) << line << " (" << x << ")";
    n++;
  }
  EXPECT_GT(n, 5000);
}

#ifdef AHA_HAVE_CUDA_FP8
TEST(Fp8Convert, MatchesCudaOnMillionsOfRandomFloats) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2'000'000; i++) {
    const uint32_t u = rng();
    const float x = from_bits(u);
    ASSERT_EQ(fp8_from_float(x, Fp8Format::E4M3), (uint8_t)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)) << std::hex << u;
    ASSERT_EQ(fp8_from_float(x, Fp8Format::E5M2), (uint8_t)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2)) << std::hex << u;
  }
}
#endif

TEST(Fp8Convert, DecodesTheFormatsDocumentedValues) {
  EXPECT_EQ(fp8_to_float(0x7E, Fp8Format::E4M3), 448.0f);
  EXPECT_EQ(fp8_to_float(0x08, Fp8Format::E4M3), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(fp8_to_float(0x01, Fp8Format::E4M3), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(fp8_to_float(0x38, Fp8Format::E4M3), 1.0f);
  EXPECT_TRUE(std::isnan(fp8_to_float(0x7F, Fp8Format::E4M3)));
  EXPECT_TRUE(std::isnan(fp8_to_float(0xFF, Fp8Format::E4M3)));
  EXPECT_TRUE(std::signbit(fp8_to_float(0x80, Fp8Format::E4M3)));
  EXPECT_EQ(fp8_to_float(0x7B, Fp8Format::E5M2), 57344.0f);
  EXPECT_TRUE(std::isinf(fp8_to_float(0x7C, Fp8Format::E5M2)));
  EXPECT_EQ(fp8_to_float(0x01, Fp8Format::E5M2), std::ldexp(1.0f, -16));
  // every number round-trips to its own code
  for (Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2})
    for (int v = 0; v < 256; v++) {
      const float x = fp8_to_float(uint8_t(v), f);
      if (std::isnan(x) || std::isinf(x)) continue;
      EXPECT_EQ(fp8_from_float(x, f), v) << v;
    }
  // saturation and rounding at the top of E4M3: 464 is the tie between 448 and (absent) 480
  EXPECT_EQ(fp8_from_float(464.0f, Fp8Format::E4M3), 0x7E);
  EXPECT_EQ(fp8_from_float(1e9f, Fp8Format::E4M3), 0x7E);
  EXPECT_EQ(fp8_from_float(-INFINITY, Fp8Format::E4M3), 0xFE);
  EXPECT_EQ(fp8_from_float(NAN, Fp8Format::E4M3), 0x7F);
  // ties to even: 1.0625 lies between 1.0 (even mantissa) and 1.125
  EXPECT_EQ(fp8_from_float(1.0625f, Fp8Format::E4M3), 0x38);
  EXPECT_EQ(fp8_from_float(1.1875f, Fp8Format::E4M3), 0x3A);  // between 1.125 (odd) and 1.25
}

TEST(Fp8Quantize, ErrorWithinHalfAnFp8StepOfEachTile) {
  std::mt19937 rng(3);
  std::lognormal_distribution<float> mag(0.0f, 2.0f);  // values over many binades
  const int R = 5, C = 300;                             // not multiples of 128
  std::vector<float> x(R * C);
  for (float& v : x) v = (rng() & 1 ? 1 : -1) * mag(rng);
  Fp8Stats st;
  const Fp8Tiles t = fp8_quantize(x.data(), R, C, 1, 128, false, Fp8Format::E4M3, &st);
  EXPECT_EQ(t.tiles_c(), 3);
  std::vector<float> back(R * C);
  fp8_dequantize(t, back.data());
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) {
      const float s = t.scale_at(r, c);
      const float v = x[r * C + c];
      // E4M3 normals: half a step is 2^-4 of the value; below 2^-6·s the subnormal step 2^-9·s
      const float bound = std::max(std::fabs(v) * 0.0625f, s * std::ldexp(1.0f, -10)) * 1.0001f;
      ASSERT_LE(std::fabs(back[r * C + c] - v), bound) << r << "," << c;
    }
  // the partial last tile (44 columns) has its own scale: its amax / 448
  float amax = 0;
  for (int c = 256; c < C; c++) amax = std::max(amax, std::fabs(x[c]));
  EXPECT_FLOAT_EQ(t.scale_at(0, 299), amax / 448.0f);
  EXPECT_EQ(st.overflow, 0.0);  // amax scaling never clips
  EXPECT_GT(st.amax, 0.0);
}

TEST(Fp8Quantize, EdgeCases) {
  // all zeros: scale 1, codes 0, nothing counted as underflow
  std::vector<float> z(130 * 200, 0.0f);
  Fp8Stats st;
  Fp8Tiles t = fp8_quantize(z.data(), 130, 200, 128, 128, false, Fp8Format::E4M3, &st);
  EXPECT_EQ(t.tiles_r(), 2);
  EXPECT_EQ(t.tiles_c(), 2);
  for (float s : t.scale) EXPECT_EQ(s, 1.0f);
  for (uint8_t q : t.q) EXPECT_EQ(q, 0);
  EXPECT_EQ(st.underflow, 0.0);
  // tiny values keep their relative precision (the scale follows them down)
  std::vector<float> tiny = {1e-30f, -3e-31f, 2.5e-30f};
  t = fp8_quantize(tiny.data(), 1, 3, 1, 128);
  std::vector<float> back(3);
  fp8_dequantize(t, back.data());
  for (int i = 0; i < 3; i++) EXPECT_NEAR(back[i], tiny[i], std::fabs(tiny[i]) * 0.0625f);
  // one outlier in a tile: the small values underflow to zero, and the stats say so
  std::vector<float> out(128, 1e-4f);
  out[5] = 1e4f;
  t = fp8_quantize(out.data(), 1, 128, 1, 128, false, Fp8Format::E4M3, &st);
  EXPECT_GT(st.underflow, 0.9);
  EXPECT_DOUBLE_EQ(st.amax, 1e4);
  // power-of-two scales: exact division, still no overflow
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 3);
  std::vector<float> x(256 * 256);
  for (float& v : x) v = nd(rng);
  t = fp8_quantize(x.data(), 256, 256, 128, 128, true, Fp8Format::E4M3, &st);
  for (float s : t.scale) {
    int e;
    EXPECT_EQ(std::frexp(s, &e), 0.5f) << s;  // a power of two
  }
  EXPECT_EQ(st.overflow, 0.0);
}

TEST(Fp8Gemm, AgreesWithFp64AndPromotionBeatsTheLimitedAccumulator) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> ud(0, 1);
  const int M = 7, N = 5, K = 1000;  // K not a multiple of 128
  std::vector<float> a(M * K), b(N * K);
  for (float& v : a) v = ud(rng);
  for (float& v : b) v = ud(rng);
  const Fp8Tiles A = fp8_quantize(a.data(), M, K, 1, 128), B = fp8_quantize(b.data(), N, K, 128, 128);
  std::vector<double> ref(M * N);
  fp8_gemm_reference(A, B, ref.data());
  std::vector<float> c32(M * N), cpro(M * N), clim(M * N);
  fp8_gemm(A, B, c32.data(), Fp8Accum::Fp32);
  fp8_gemm(A, B, cpro.data(), Fp8Accum::Promote);
  fp8_gemm(A, B, clim.data(), Fp8Accum::Limited);
  double e32 = 0, epro = 0, elim = 0;
  for (int i = 0; i < M * N; i++) {
    e32 = std::max(e32, std::fabs(c32[i] - ref[i]) / ref[i]);
    epro = std::max(epro, std::fabs(cpro[i] - ref[i]) / ref[i]);
    elim = std::max(elim, std::fabs(clim[i] - ref[i]) / ref[i]);
  }
  EXPECT_LT(e32, 1e-5);          // FP32 accumulation of exact products: float rounding only
  EXPECT_LT(epro, 2e-3);         // 13-bit partial sums over 128 elements at most
  EXPECT_GT(elim, 4 * epro);     // without promotion the truncation compounds over K
  // the dequantised operands through a float GEMM give the same as the FP32 mode
  std::vector<float> da(M * K), db(N * K);
  fp8_dequantize(A, da.data());
  fp8_dequantize(B, db.data());
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)da[m * K + k] * db[n * K + k];
      EXPECT_NEAR(s, ref[m * N + n], 1e-9 * ref[m * N + n]);
    }
  // operands that do not match are refused
  const Fp8Tiles bad = fp8_quantize(b.data(), N, K - 1, 128, 128);
  EXPECT_THROW(fp8_gemm(A, bad, c32.data(), Fp8Accum::Fp32), std::invalid_argument);
  const Fp8Tiles wrong_tiles = fp8_quantize(b.data(), N, K, 1, 64);
  EXPECT_THROW(fp8_gemm(A, wrong_tiles, c32.data(), Fp8Accum::Fp32), std::invalid_argument);
}

}  // namespace
}  // namespace aha::kernels

namespace aha {
namespace {
TEST(Fp8Study, LimitedErrorGrowsWithKWhilePromotedStaysFlat) {
  Fp8StudyConfig c;
  c.ks = {128, 512, 2048, 4096};
  c.m = c.n = 8;
  const auto rows = fp8_accumulation_study(c);
  ASSERT_EQ(rows.size(), 12u);
  auto at = [&](int k, const std::string& mode) {
    for (const auto& r : rows)
      if (r.k == k && r.mode == mode) return r;
    ADD_FAILURE() << k << " " << mode;
    return Fp8StudyRow{};
  };
  // no promotion: the error grows about linearly with K (truncation compounds)
  EXPECT_GT(at(512, "limited").max_rel_error, 2 * at(128, "limited").max_rel_error);
  EXPECT_GT(at(4096, "limited").max_rel_error, 10 * at(128, "limited").max_rel_error);
  EXPECT_GT(at(4096, "limited").max_rel_error, 0.01);  // percent level at K = 4096, as V3 reports
  // promotion every 128: flat
  EXPECT_LT(at(4096, "promote128").max_rel_error, 2 * at(128, "promote128").max_rel_error);
  EXPECT_LT(at(4096, "promote128").max_rel_error, 2e-3);
  EXPECT_LT(at(4096, "fp32").max_rel_error, 1e-4);
  for (const auto& r : rows) EXPECT_LE(r.mean_rel_error, r.max_rel_error);
  const std::string json = fp8_study_json(rows);
  EXPECT_NE(json.find("\"mode\":\"promote128\""), std::string::npos);
  c.inputs = "cauchy";
  EXPECT_THROW(fp8_accumulation_study(c), InvalidArgument);
}
}  // namespace
}  // namespace aha

// ---- training in FP8 / BF16 -----------------------------------------------------------
#include <filesystem>

#include "engine/config.h"
#include "engine/model.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/run.h"
#include "engine/store.h"
#include "kernels/cpu/precision_ops.h"

namespace aha {
namespace {

Batch fp8_batch(int B, int T, int V, uint64_t seed) {
  Rng rng(seed);
  Batch b;
  b.B = B, b.T = T;
  for (int i = 0; i < B * T; i++) {
    b.inputs.push_back((int32_t)rng.below(V));
    b.targets.push_back((int32_t)rng.below(V));
    b.mask.push_back(1.0f);
  }
  return b;
}

TEST(Fp8Training, FpropIsTheFp8GemmOfTheV3Tiles) {
  using namespace kernels;
  PrecisionOps ops(cpu_ops(), Precision::FP8);
  EXPECT_EQ(&ops.high_precision(), &cpu_ops());
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0, 1);
  const int M = 9, N = 130, K = 200;  // partial tiles both ways
  std::vector<float> x(M * K), w(N * K), y(M * N);
  for (float& v : x) v = nd(rng);
  for (float& v : w) v = nd(rng) * 0.05f;
  ops.gemm(false, true, M, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, y.data(), N, Precision::FP32);
  const Fp8Tiles X = fp8_quantize(x.data(), M, K, 1, 128), W = fp8_quantize(w.data(), N, K, 128, 128);
  std::vector<double> ref(M * N);
  fp8_gemm_reference(X, W, ref.data());
  for (int i = 0; i < M * N; i++) EXPECT_NEAR(y[i], ref[i], 1e-4 + 1e-5 * std::fabs(ref[i])) << i;
  // and its statistics name the tensors of layer 0
  const auto stats = ops.take_stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].tensor, "w");
  EXPECT_EQ(stats[1].tensor, "x");
  EXPECT_GT(stats[1].amax, 2.0);
  EXPECT_TRUE(ops.take_stats().empty());  // taken once
}

TEST(Fp8Training, GradientsThroughFp8LayersFollowTheFp32Ones) {
  // Quantisation is not differentiable, so finite differences of the FP8 forward are
  // meaningless; what must hold is that the FP8 gradient points where the FP32 one does.
  RunConfig c = load_config("micro");
  const Batch b = fp8_batch(2, 32, c.model.vocab_size, 3);
  auto grads = [&](kernels::Precision p) {
    Model m(c.model, kernels::cpu_ops());
    m.init_weights(5);
    m.set_precision(p);
    m.zero_grad();
    m.forward_backward(b);
    return m.params.grads;
  };
  const auto g32 = grads(kernels::Precision::FP32), g8 = grads(kernels::Precision::FP8),
             g16 = grads(kernels::Precision::BF16);
  auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / std::sqrt(aa * bb);
  };
  EXPECT_GT(cosine(g32, g16), 0.9999);
  EXPECT_GT(cosine(g32, g8), 0.995);
  EXPECT_LT(cosine(g32, g8), 1.0 - 1e-9);  // FP8 did change something
}

TEST(Fp8Training, MicroTrainsInFp8CloseToBf16AndRecordsPerLayerStatistics) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("aha_fp8_run_" + std::to_string(::getpid()));
  auto final_eval = [&](const std::string& precision, const std::string& moments) {
    fs::remove_all(dir);
    RunConfig c = apply_overrides(load_config("micro"), {"train.precision=" + precision, "train.adam_moments=" + moments,
                                                         "train.steps=30", "train.log_every=30"});
    aha::Run run(c, dir.string());
    run.run_blocking();
    EXPECT_EQ(run.status(), RunStatus::Finished);
    const RunStoreReader r = RunStoreReader::open(dir.string(), false);
    const auto s = r.summary();
    EXPECT_EQ(precision == "fp8", s.latest.count("fp8/underflow_mean") == 1);
    // the Linear inputs kept for Wgrad: an E4M3 byte per value plus a 4-byte scale per
    // tile of up to 128 (micro's inputs are 32 to 64 wide: 1.06-1.125 bytes) against 4
    // bytes (FP8); BF16 2 against 4
    const double ratio = s.latest.at("precision/activation_cache_mb") / s.latest.at("precision/activation_cache_fp32_mb");
    if (precision == "fp8") EXPECT_TRUE(ratio > (1 + 4.0 / 128) / 4 && ratio <= (1 + 4.0 / 32) / 4) << ratio;
    else EXPECT_DOUBLE_EQ(ratio, 0.5);
    return s.latest.at("eval_loss");
  };
  const double bf16 = final_eval("bf16", "fp32");
  const double fp8 = final_eval("fp8", "bf16");
  EXPECT_LT(std::fabs(fp8 - bf16) / bf16, 0.02) << "fp8 " << fp8 << " vs bf16 " << bf16;
  // the last run (FP8) stored amax / underflow / overflow per layer and tensor

  {
    const RunStoreReader r = RunStoreReader::open(dir.string(), false);
    EXPECT_LT(r.summary().latest.at("fp8/overflow_max"), 1e-9);  // amax scaling never clips
    std::string stage;
    int64_t step = 0;
    const auto rows = r.fp8_latest(&stage, &step);
    EXPECT_EQ(stage, "pretrain");
    EXPECT_EQ(step, 30);
    // micro: 2 blocks + 1 MTP block, each with x, w and dy
    ASSERT_EQ(rows.size(), 9u);
    for (const auto& row : rows) {
      EXPECT_GT(row.amax, 0.0) << row.layer << " " << row.tensor;
      EXPECT_GE(row.underflow, 0.0);
      EXPECT_LT(row.underflow, 0.05);
    }
  }
  fs::remove_all(dir);
  EXPECT_THROW(apply_overrides(load_config("micro"), {"train.precision=fp16"}), ConfigError);
}

TEST(Fp8Training, Bf16MomentsAreStoredInBf16) {
  RunConfig c = load_config("micro");
  c.train.adam_moments = "bf16";
  Model m(c.model, kernels::cpu_ops());
  m.init_weights(1);
  AdamW opt(m.params);
  m.zero_grad();
  m.forward_backward(fp8_batch(2, 16, c.model.vocab_size, 9));
  opt.step(kernels::cpu_ops(), m.params, c.train, 1e-3);
  size_t nonzero = 0;
  for (float x : opt.m) {
    EXPECT_EQ(x, kernels::round_bf16(x));
    nonzero += x != 0;
  }
  for (float x : opt.v) EXPECT_EQ(x, kernels::round_bf16(x));
  EXPECT_GT(nonzero, opt.m.size() / 2);
}

}  // namespace
}  // namespace aha

namespace aha::kernels {
namespace {
TEST(Fp8Quantize, FastFakeQuantisationEqualsQuantiseThenDequantiseBitForBit) {
  std::mt19937 rng(11);
  std::lognormal_distribution<float> mag(0.0f, 3.0f);
  const int R = 131, C = 257;
  std::vector<float> x(R * C);
  for (float& v : x) v = (rng() & 1 ? 1 : -1) * mag(rng);
  x[5] = 0.0f, x[6] = -0.0f, x[7] = 1e-30f, x[8] = 3e20f;  // zeros, a value that underflows, an outlier
  for (bool pow2 : {false, true})
    for (auto [tr, tc] : {std::pair{1, 128}, std::pair{128, 128}, std::pair{128, 1}}) {
      Fp8Stats s1, s2;
      const Fp8Tiles t = fp8_quantize(x.data(), R, C, tr, tc, pow2, Fp8Format::E4M3, &s1);
      std::vector<float> slow(R * C), fast(R * C);
      fp8_dequantize(t, slow.data());
      fp8_fake_quantize(x.data(), R, C, 0, tr, tc, pow2, fast.data(), &s2);
      for (int i = 0; i < R * C; i++)
        ASSERT_EQ(std::memcmp(&slow[i], &fast[i], 4), 0) << i << ": " << x[i] << " -> " << slow[i] << " vs " << fast[i];
      EXPECT_EQ(s1.underflow, s2.underflow);
      EXPECT_EQ(s1.overflow, s2.overflow);
      EXPECT_EQ(s1.amax, s2.amax);
    }
}
}  // namespace
}  // namespace aha::kernels

// ---- activations stashed for Wgrad (kernels/cpu/stash.h) -----------------------------
namespace aha::kernels {
namespace {
TEST(Fp8Stash, CodeOnGridInvertsTheDecoderForEveryE4M3Value) {
  for (int c = 0; c < 256; c++) {
    if ((c & 0x7F) == 0x7F) continue;  // NaN
    EXPECT_EQ(e4m3_code_on_grid(fp8_to_float((uint8_t)c, Fp8Format::E4M3)), c) << c;
  }
  EXPECT_EQ(e4m3_code_on_grid(std::nanf("")) & 0x7F, 0x7F);
}

TEST(Fp8Stash, EncodedStashDecodesToTheFakeQuantisedValuesBitForBit) {
  std::mt19937 rng(12);
  std::lognormal_distribution<float> mag(0.0f, 3.0f);
  for (int cols : {64, 128, 200, 257}) {  // one partial tile, whole tiles, partial last tiles
    const int rows = 37;
    std::vector<float> x((size_t)rows * cols);
    for (float& v : x) v = (rng() & 1 ? 1 : -1) * mag(rng);
    std::fill(x.begin(), x.begin() + cols, 0.0f);  // an all-zero row: scale 1, codes 0
    x[cols + 1] = 1e-30f;                            // flushed to zero in its tile
    for (bool pow2 : {false, true}) {
      Stash s;
      s.rows = rows, s.cols = cols;
      stash_encode_fp8(s, x.data(), pow2);
      EXPECT_EQ(s.held_bytes(), (size_t)rows * cols + 4 * (size_t)rows * ((cols + 127) / 128));
      std::vector<float> got(x.size()), want(x.size());
      stash_decode(s, got.data());
      fp8_fake_quantize(x.data(), rows, cols, 0, 1, 128, pow2, want.data());
      for (size_t i = 0; i < x.size(); i++)
        ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << cols << " " << pow2 << " " << i << ": " << got[i] << " vs " << want[i];
    }
    Stash b;
    b.rows = rows, b.cols = cols;
    stash_encode_bf16(b, x.data());
    EXPECT_EQ(b.held_bytes(), 2 * x.size());
    std::vector<float> got(x.size());
    stash_decode(b, got.data());
    for (size_t i = 0; i < x.size(); i++) ASSERT_EQ(got[i], round_bf16(x[i])) << i;
  }
}

TEST(Fp8Stash, PrecisionOpsHoldsCodesNotFloatsAndWgradMatchesTheEmulatedCache) {
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0, 1);
  const int T = 300, in = 200, out = 70;  // tokens (Wgrad's K) and widths not multiples of 128
  std::vector<float> x((size_t)T * in), dy((size_t)T * out);
  for (float& v : x) v = nd(rng);
  for (float& v : dy) v = nd(rng) * 1e-3f;
  for (Precision p : {Precision::FP8, Precision::BF16}) {
    PrecisionOps ops(cpu_ops(), p);
    ops.count_cache(true);
    // dW = dyᵀ·x with x straight from floats: the precision layer emulates the cache
    std::vector<float> dw_direct((size_t)out * in, 0.0f), dw_stash((size_t)out * in, 0.0f);
    ops.gemm(true, false, out, in, T, 1.0f, dy.data(), out, x.data(), in, 1.0f, dw_direct.data(), in, Precision::FP32);
    // the same through a stash: written, sealed (codes only), opened, read by Wgrad
    Stash s;
    float* buf = ops.stash_begin(s, T, in);
    std::copy(x.begin(), x.end(), buf);
    ops.stash_seal(s);
    EXPECT_TRUE(s.f32.empty());  // the float buffer went back to the pool
    const size_t want = p == Precision::FP8 ? (size_t)T * in + 4 * (size_t)T * 2 : 2 * (size_t)T * in;
    EXPECT_EQ(s.held_bytes(), want);
    const auto [fp32_bytes, held] = ops.take_cache_bytes();
    EXPECT_EQ(fp32_bytes, 4.0 * T * in);
    EXPECT_EQ(held, (double)want);
    const float* xs = ops.stash_open(s);
    ops.gemm(true, false, out, in, T, 1.0f, dy.data(), out, xs, in, 1.0f, dw_stash.data(), in, Precision::FP32);
    ops.stash_close(s);
    EXPECT_TRUE(s.f32.empty());
    for (size_t i = 0; i < dw_direct.size(); i++) ASSERT_EQ(dw_direct[i], dw_stash[i]) << i;
    // a second stash of the same size reuses the pooled buffer
    Stash s2;
    float* buf2 = ops.stash_begin(s2, T, in);
    EXPECT_TRUE(buf2 == buf || buf2 == xs);
    // outside a training forward a seal keeps nothing, and opening it is an error
    ops.count_cache(false);
    ops.stash_seal(s2);
    EXPECT_EQ(s2.held_bytes(), 0u);
    EXPECT_THROW(ops.stash_open(s2), std::logic_error);
  }
}
}  // namespace
}  // namespace aha::kernels
