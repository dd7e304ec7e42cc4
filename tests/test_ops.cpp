// One harness for every op of every backend (ggml's test-backend-ops pattern):
//  * MODE_TEST: each op runs on the backend under test and on ReferenceOps with the same
//    random inputs; outputs must agree (normalised mean squared error and max error).
//  * MODE_GRAD: each backward op of the reference is checked against central finite
//    differences of its forward along random directions.
// A CUDA backend joins by adding itself to backends().
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "grad_check.h"
#include "one_thread.h"
#include "kernels/cpu/aligned.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/packed_gemm.h"
#include "kernels/cpu/skinny_gemm.h"
#include "kernels/cpu/small_gemm.h"
#include "kernels/cpu/softmax_rows.h"

namespace aha::kernels {
namespace {

using Vec = std::vector<float>;
using test::random_vec;

// An op case computes its outputs on a backend from inputs it builds from a fixed seed.
struct OpCase {
  std::string name;
  double tol;  // max |a-b| / (1 + |b|)
  std::function<std::vector<Vec>(Ops&)> run;
};

double max_err(const Vec& a, const Vec& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); i++) e = std::max(e, std::abs((double)a[i] - b[i]) / (1.0 + std::abs((double)b[i])));
  return e;
}

AttnShape attn_shape(int B, int T, int H, int Hkv, int Dk, int Dv, int Tq = -1) {
  AttnShape s;
  s.B = B; s.Tk = T; s.Tq = Tq < 0 ? T : Tq; s.H = H; s.Hkv = Hkv; s.Dk = Dk; s.Dv = Dv;
  s.ldq = H * Dk; s.ldk = Hkv * Dk; s.ldv = Hkv * Dv; s.ldo = H * Dv;
  s.scale = 1.0f / std::sqrt((float)Dk);
  return s;
}

// Gaps of a packed row of length T (as engine/grpo_pack.h lays them out): a prompt of
// T/4 tokens, then segments of varied lengths; a segment's queries skip the keys between
// the prompt's end and their own segment's start. Row b shifts the cuts by 7·b.
void packed_gaps(int B, int T, std::vector<int>& gb, std::vector<int>& ge) {
  gb.assign((size_t)B * T, 0);
  ge.assign((size_t)B * T, 0);
  for (int b = 0; b < B; b++) {
    const int prompt = T / 4 + 7 * b;
    int start = prompt;
    for (int t = prompt; t < T; t++) {
      if (t - start == 11 + 13 * ((start / 7) % 5)) start = t;  // a new segment begins at t
      gb[(size_t)b * T + t] = prompt;
      ge[(size_t)b * T + t] = start;
    }
  }
}

// Random q, k, v and dO through attention_forward and _backward: {out, lse, dq, dk, dv}.
std::vector<Vec> attention_round_trip(Ops& o, const AttnShape& s) {
  Vec q = random_vec((size_t)s.B * s.Tq * s.ldq, 1), k = random_vec((size_t)s.B * s.Tk * s.ldk, 2),
      v = random_vec((size_t)s.B * s.Tk * s.ldv, 3), out((size_t)s.B * s.Tq * s.ldo), lse((size_t)s.B * s.H * s.Tq);
  o.attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
  Vec dout = random_vec(out.size(), 4), dq(q.size()), dk(k.size()), dv(v.size());
  o.attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(), k.data(), v.data(), s);
  return {out, lse, dq, dk, dv};
}

std::vector<OpCase> cases() {
  std::vector<OpCase> c;
  for (auto [ta, tb] : {std::pair{false, true}, {false, false}, {true, false}, {true, true}})
    c.push_back({std::string("gemm_") + (ta ? "T" : "N") + (tb ? "T" : "N"), 1e-5, [ta, tb](Ops& o) {
                   const int M = 37, N = 71, K = 130;
                   Vec A = random_vec((size_t)M * K, 1), B = random_vec((size_t)N * K, 2), C = random_vec((size_t)M * N, 3);
                   o.gemm(ta, tb, M, N, K, 0.7f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.5f, C.data(), N);
                   return std::vector<Vec>{C};
                 }});
  for (int M : {1, 2, 3, 4})  // decoding's few-row products (skinny_gemm.h for M = 2, 3)
    for (float beta : {0.0f, 0.5f})
      c.push_back({"gemm_NT_rows" + std::to_string(M) + (beta == 0.0f ? "" : "_beta"), 1e-5, [M, beta](Ops& o) {
                     const int N = 71, K = 130, lda = K + 3, ldb = K + 5, ldc = N + 2;
                     Vec A = random_vec((size_t)M * lda, 1), B = random_vec((size_t)N * ldb, 2), C = random_vec((size_t)M * ldc, 3);
                     o.gemm(false, true, M, N, K, 0.7f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
                     return std::vector<Vec>{C};
                   }});
  // weight-gradient products that the fast backend sends to packed_gemm (on AVX2 machines,
  // single-threaded callers): one thread here, as inside the data-parallel region
  // (weight gradients TN with both sides >= 128; N >= 512 forward x·Wᵀ (NT) and backward NN)
  struct Packed { bool ta, tb; int M, N, K; };
  for (Packed p : {Packed{true, false, 128, 136, 300}, {true, false, 150, 520, 390}, {false, false, 150, 520, 390},
                   {false, true, 150, 520, 390}})
    // K = 300–390 float sums (the reference's sequential, packed_gemm's in 8 lanes): 4e-5
    c.push_back({std::string("gemm_packed_") + (p.ta ? "T" : "N") + (p.tb ? "T_" : "N_") + std::to_string(p.M) + "x" +
                     std::to_string(p.N),
                 4e-5, [p](Ops& o) {
                   EXPECT_TRUE(prefer_packed_gemm(p.ta, p.M, p.N, p.K)) << "this case should reach packed_gemm";
                   Vec A = random_vec((size_t)p.M * p.K, 1), B = random_vec((size_t)p.K * p.N, 2), C = random_vec((size_t)p.M * p.N, 3);
                   const test::OneOmpThread one;
                   o.gemm(p.ta, p.tb, p.M, p.N, p.K, 0.7f, A.data(), p.ta ? p.M : p.K, B.data(), p.tb ? p.K : p.N, 0.5f,
                          C.data(), p.N);
                   return std::vector<Vec>{C};
                 }});
  c.push_back({"axpy_copy2d", 1e-6, [](Ops& o) {
                 Vec y = random_vec(1000, 1), x = random_vec(1000, 2), d = random_vec(30 * 20, 3);
                 o.axpy(y.data(), x.data(), 0.3f, 1000);
                 o.copy2d(d.data(), 20, x.data(), 33, 30, 17, true);
                 return std::vector<Vec>{y, d};
               }});
  c.push_back({"rmsnorm", 1e-5, [](Ops& o) {
                 const int N = 33, C = 96;
                 Vec x = random_vec(N * C, 1), w = random_vec(C, 2), out(N * C), r(N), dy = random_vec(N * C, 3), dx(N * C), dw = random_vec(C, 4);
                 o.rmsnorm_forward(out.data(), r.data(), x.data(), w.data(), N, C, 1e-6f);
                 o.rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), r.data(), N, C);
                 return std::vector<Vec>{out, r, dx, dw};
               }});
  c.push_back({"rope", 1e-5, [](Ops& o) {
                 const int T = 40, H = 3, ld = 24, R = 8;
                 Vec x = random_vec(T * H * ld, 1);
                 std::vector<int> pos(T);
                 for (int t = 0; t < T; t++) pos[t] = 3 * t + 1;
                 o.rope(x.data(), ld, 16, R, pos.data(), H, T * H, 10000.0f, false);
                 Vec y = x;
                 o.rope(y.data(), ld, 16, R, pos.data(), H, T * H, 10000.0f, true);
                 return std::vector<Vec>{x, y};
               }});
  // Tq <= 4 against 70 keys: the decoding kernel
  for (auto [Hkv, Tq] : {std::pair{4, 70}, {1, 70}, {2, 70}, {1, 1}, {4, 13}, {4, 1}, {1, 2}, {4, 2}, {2, 4}, {1, 4}})
    c.push_back({"attention_Hkv" + std::to_string(Hkv) + "_Tq" + std::to_string(Tq), 1e-4, [Hkv, Tq](Ops& o) {
                   AttnShape s = attn_shape(2, 70, 4, Hkv, 20, 12, Tq);
                   Vec q = random_vec((size_t)s.B * s.Tq * s.ldq, 1), k = random_vec((size_t)s.B * s.Tk * s.ldk, 2),
                       v = random_vec((size_t)s.B * s.Tk * s.ldv, 3), out((size_t)s.B * s.Tq * s.ldo), lse((size_t)s.B * s.H * s.Tq);
                   o.attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
                   if (s.Tq != s.Tk) return std::vector<Vec>{out, lse};
                   Vec dout = random_vec(out.size(), 4), dq(q.size()), dk(k.size()), dv(v.size());
                   o.attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(), k.data(), v.data(), s);
                   return std::vector<Vec>{out, lse, dq, dk, dv};
                 }});
  // the training shape with the fast backend's probabilities cache (AttnShape::probs):
  // the backward reads P instead of recomputing it; T = 150 spans three 64-query blocks
  for (int Hkv : {4, 2, 1})
    c.push_back({"attention_probs_cache_Hkv" + std::to_string(Hkv), 1e-4, [Hkv](Ops& o) {
                   AttnShape s = attn_shape(2, 150, 4, Hkv, 20, 12);
                   AlignedFloats probs(o.attention_probs_floats(s));
                   if (!probs.empty()) s.probs = probs.data();
                   return attention_round_trip(o, s);
                 }});
  // packed GRPO rows: queries skip a gap of keys (their sibling completions), across the
  // kQBlock = 64 boundary of the fast kernel and with gaps ending before, at and after it
  for (int Hkv : {4, 1})
    for (bool cache : {false, true})
    c.push_back({"attention_gaps_Hkv" + std::to_string(Hkv) + (cache ? "_probs_cache" : ""), 1e-4, [Hkv, cache](Ops& o) {
                   AttnShape s = attn_shape(2, 150, 4, Hkv, 20, 12);
                   std::vector<int> gb, ge;
                   packed_gaps(s.B, s.Tq, gb, ge);
                   s.gap_begin = gb.data();
                   s.gap_end = ge.data();
                   AlignedFloats probs(cache ? o.attention_probs_floats(s) : 0);
                   if (!probs.empty()) s.probs = probs.data();
                   return attention_round_trip(o, s);
                 }});
  c.push_back({"mla_expand_kv", 0.0, [](Ops& o) {
                 const int N = 9, H = 3, dn = 4, dr = 2, dv = 5;
                 Vec kv = random_vec(N * H * (dn + dv), 1), kpe = random_vec(N * dr, 2), k(N * H * (dn + dr)), v(N * H * dv);
                 o.mla_expand_kv(k.data(), v.data(), kv.data(), kpe.data(), N, H, dn, dr, dv);
                 Vec dkv(kv.size()), dkpe(kpe.size());
                 o.mla_expand_kv_backward(dkv.data(), dkpe.data(), k.data(), v.data(), N, H, dn, dr, dv);
                 return std::vector<Vec>{k, v, dkv, dkpe};
               }});
  c.push_back({"swiglu", 1e-5, [](Ops& o) {
                 const int N = 17, I = 40;
                 Vec gu = random_vec(N * 2 * I, 1, 3.0), h(N * I), dh = random_vec(N * I, 2), dgu(N * 2 * I);
                 o.swiglu_forward(h.data(), gu.data(), N, I);
                 o.swiglu_backward(dgu.data(), dh.data(), gu.data(), N, I);
                 return std::vector<Vec>{h, dgu};
               }});
  c.push_back({"gather_scatter_rowdot", 1e-5, [](Ops& o) {
                 const int N = 11, M = 25, C = 19;
                 std::vector<int32_t> idx(M);
                 for (int m = 0; m < M; m++) idx[m] = (m * 7) % N;
                 Vec src = random_vec(N * C, 1), w = random_vec(M, 2), g(M * C), dst = random_vec(N * C, 3), rd(M);
                 o.gather_rows(g.data(), src.data(), idx.data(), w.data(), M, C);
                 o.scatter_add_rows(dst.data(), g.data(), idx.data(), w.data(), M, C);
                 o.gather_rowdot(rd.data(), src.data(), idx.data(), g.data(), M, C);
                 return std::vector<Vec>{g, dst, rd};
               }});
  c.push_back({"xent", 1e-5, [](Ops& o) {
                 const int N = 13, V = 300;
                 Vec logits = random_vec(N * V, 1, 4.0), loss(N), dl = random_vec(N, 2), d(N * V);
                 std::vector<int32_t> t(N);
                 for (int n = 0; n < N; n++) t[n] = n == 5 ? -1 : (n * 37) % V;
                 o.xent_forward(loss.data(), logits.data(), t.data(), N, V);
                 o.xent_backward(d.data(), logits.data(), t.data(), dl.data(), N, V);
                 return std::vector<Vec>{loss, d};
               }});
  c.push_back({"adamw_sumsq", 1e-5, [](Ops& o) {
                 const size_t n = 70000;
                 Vec p = random_vec(n, 1), g = random_vec(n, 2), m = random_vec(n, 3, 0.1), v = random_vec(n, 4, 0.1);
                 for (auto& e : v) e = std::abs(e);
                 o.adamw(p.data(), g.data(), m.data(), v.data(), n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 0.3f, 0.7f);
                 return std::vector<Vec>{p, m, v, Vec{(float)o.sumsq(g.data(), n)}};
               }});
  return c;
}

std::vector<Ops*> backends() { return {&cpu_ops()}; }

TEST(OpHarness, EveryOpOfEveryBackendMatchesTheReference) {
  int compared = 0;
  for (Ops* be : backends())
    for (const OpCase& oc : cases()) {
      SCOPED_TRACE(std::string(be->name()) + " " + oc.name);
      auto want = oc.run(reference_ops());
      auto got = oc.run(*be);
      ASSERT_EQ(want.size(), got.size());
      for (size_t i = 0; i < want.size(); i++) {
        ASSERT_EQ(want[i].size(), got[i].size());
        EXPECT_LE(max_err(got[i], want[i]), oc.tol) << "output " << i;
        compared++;
      }
    }
  EXPECT_GT(compared, 30);
}

// ---- finite differences of the reference backward ops ------------------------------

// Loss L = Σ R ⊙ f(x) for a fixed random R; checks dL/dx from the backward op.
void expect_grad(const char* what, Vec& x, const Vec& grad, const std::function<double()>& L) {
  double fd = 0, an = 0;
  const double err = test::directional_check(x.data(), x.size(), grad.data(), L, 99, 1e-2, &fd, &an, 1e-2);
  EXPECT_LT(err, 5e-3) << what << ": fd " << fd << " analytic " << an;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += (double)a[i] * b[i];
  return s;
}

TEST(OpGrad, RmsNorm) {
  Ops& o = reference_ops();
  const int N = 5, C = 24;
  Vec x = random_vec(N * C, 1), w = random_vec(C, 2), R = random_vec(N * C, 3), out(N * C), r(N), dx(N * C), dw(C, 0.0f);
  auto L = [&] { o.rmsnorm_forward(out.data(), r.data(), x.data(), w.data(), N, C, 1e-6f); return dot(out, R); };
  L();
  o.rmsnorm_backward(dx.data(), dw.data(), R.data(), x.data(), w.data(), r.data(), N, C);
  expect_grad("dx", x, dx, L);
  expect_grad("dweight", w, dw, L);
}

TEST(OpGrad, RopeBackwardIsTheInverseRotation) {
  Ops& o = reference_ops();
  const int N = 6, ld = 10, R = 6;
  std::vector<int> pos = {0, 1, 5, 9, 100, 1000};
  Vec x = random_vec(N * ld, 1), Rv = random_vec(N * ld, 2);
  auto L = [&] { Vec y = x; o.rope(y.data(), ld, 2, R, pos.data(), 1, N, 10000.0f, false); return dot(y, Rv); };
  Vec g = Rv;
  o.rope(g.data(), ld, 2, R, pos.data(), 1, N, 10000.0f, true);
  expect_grad("dx", x, g, L);
}

// Random q, k, v for shape s; checks dq, dk, dv against finite differences of
// <attention(q, k, v), R>, and returns the inputs with `out` at them (unperturbed).
struct AttnCase { Vec q, k, v, out, lse; };
AttnCase check_attention_grads(Ops& o, const AttnShape& s) {
  AttnCase c{random_vec((size_t)s.B * s.Tq * s.ldq, 1), random_vec((size_t)s.B * s.Tk * s.ldk, 2),
             random_vec((size_t)s.B * s.Tk * s.ldv, 3), Vec((size_t)s.B * s.Tq * s.ldo), Vec((size_t)s.B * s.H * s.Tq)};
  const Vec R = random_vec(c.out.size(), 4);
  auto L = [&] { o.attention_forward(c.out.data(), c.lse.data(), c.q.data(), c.k.data(), c.v.data(), s); return dot(c.out, R); };
  L();
  Vec dq(c.q.size()), dk(c.k.size()), dv(c.v.size());
  o.attention_backward(dq.data(), dk.data(), dv.data(), R.data(), c.out.data(), c.lse.data(), c.q.data(), c.k.data(), c.v.data(), s);
  expect_grad("dq", c.q, dq, L);
  expect_grad("dk", c.k, dk, L);
  expect_grad("dv", c.v, dv, L);
  L();
  return c;
}

TEST(OpGrad, AttentionAllHeadLayouts) {
  for (int Hkv : {2, 1}) {
    SCOPED_TRACE("Hkv " + std::to_string(Hkv));
    check_attention_grads(reference_ops(), attn_shape(2, 7, 2, Hkv, 6, 5));
  }
}

TEST(OpGrad, AttentionWithGaps) {
  Ops& o = reference_ops();
  for (int Hkv : {2, 1}) {
    SCOPED_TRACE("Hkv " + std::to_string(Hkv));
    AttnShape s = attn_shape(2, 9, 2, Hkv, 6, 5);
    // row 0: prompt of 3, segments [3,5) [5,9); row 1: prompt of 2, segments [2,4) [4,6) [6,9)
    std::vector<int> gb = {0, 0, 0, 3, 3, 3, 3, 3, 3, 0, 0, 2, 2, 2, 2, 2, 2, 2},
                     ge = {0, 0, 0, 3, 3, 5, 5, 5, 5, 0, 0, 2, 2, 4, 4, 6, 6, 6};
    s.gap_begin = gb.data();
    s.gap_end = ge.data();
    const AttnCase c = check_attention_grads(o, s);
    // the last query of row 0 (segment [5,9)) sees keys {0,1,2,5,6,7,8}: a plain causal
    // call on exactly those keys gives the same output
    const std::vector<int> seen = {0, 1, 2, 5, 6, 7, 8};
    AttnShape one = attn_shape(1, (int)seen.size(), 2, Hkv, 6, 5);
    Vec q1(c.q.size()), k1, v1, o1((size_t)seen.size() * one.ldo), l1((size_t)one.H * seen.size());
    for (int j : seen) {
      k1.insert(k1.end(), c.k.begin() + (size_t)j * s.ldk, c.k.begin() + (size_t)(j + 1) * s.ldk);
      v1.insert(v1.end(), c.v.begin() + (size_t)j * s.ldv, c.v.begin() + (size_t)(j + 1) * s.ldv);
    }
    std::copy(c.q.begin() + 8 * s.ldq, c.q.begin() + 9 * s.ldq, q1.begin() + (seen.size() - 1) * one.ldq);
    o.attention_forward(o1.data(), l1.data(), q1.data(), k1.data(), v1.data(), one);
    for (int i = 0; i < one.ldo; i++)
      EXPECT_NEAR(o1[(seen.size() - 1) * one.ldo + i], c.out[8 * s.ldo + i], 1e-5) << "output " << i;
  }
}

// small_gemm (attention's register-blocked kernel) against plain loops: every tile width
// it picks (1-4 vectors, column tails), row counts past its 1,024-row rounds, A stored
// transposed, accumulation, and each causal limit. As its callers do, A is zero outside
// each row's own k range (a row tile reduces over the union of its rows' ranges); columns
// past a row's causal limit are not specified (callers ignore them).
TEST(SmallGemm, MatchesPlainLoops) {
  struct Case { int M, N, K; bool transA, acc; TileLimits lim; };
  std::vector<Case> cases;
  for (int N : {1, 15, 16, 31, 32, 33, 47, 48, 64, 65, 100, 130})
    for (int M : {1, 5, 13, 64})
      for (int K : {1, 17, 48}) cases.push_back({M, N, K, (M + N + K) % 2 == 1, N % 3 == 0, {}});
  cases.push_back({1100, 48, 20, true, true, {}});
  cases.push_back({1030, 33, 7, false, false, {}});
  TileLimits ncausal, kend, kbegin;
  ncausal.n_end_off = 3;
  kend.k_end_off = 5;
  kbegin.k_begin_off = -10;
  for (const TileLimits& lim : {ncausal, kend, kbegin})
    for (int N : {20, 48, 70}) {
      cases.push_back({70, N, 70, false, true, lim});
      cases.push_back({70, N, 70, true, false, lim});
    }
  for (const Case& c : cases) {
    SCOPED_TRACE("M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K) +
                 (c.transA ? " A^T" : "") + (c.acc ? " accumulate" : ""));
    const long ars = c.transA ? 1 : c.K, acs = c.transA ? c.M : 1;  // A^T: stored [K, M]
    auto k_range = [&](int i, int& k0, int& k1) {
      k0 = std::max(0, i + c.lim.k_begin_off);
      k1 = std::min(c.K, std::max(k0, i + 1 + c.lim.k_end_off));
    };
    Vec A = random_vec((size_t)c.M * c.K, 1);
    for (int i = 0; i < c.M; i++) {
      int k0, k1;
      k_range(i, k0, k1);
      for (int k = 0; k < c.K; k++)
        if (k < k0 || k >= k1) A[(size_t)i * ars + (size_t)k * acs] = 0.0f;
    }
    const int ldb = c.N + 3, ldc = c.N + 5;
    const Vec B = random_vec((size_t)c.K * ldb, 2), C0 = random_vec((size_t)c.M * ldc, 3);
    Vec C = C0;
    const float alpha = 0.7f;
    small_gemm(c.M, c.N, c.K, alpha, A.data(), ars, acs, B.data(), ldb, C.data(), ldc, c.acc, c.lim);
    for (int i = 0; i < c.M; i++) {
      const int n_need = std::min(c.N, i + 1 + c.lim.n_end_off);  // columns row i must have
      for (int j = 0; j < n_need; j++) {
        double sum = 0.0;
        for (int k = 0; k < c.K; k++) sum += (double)A[(size_t)i * ars + (size_t)k * acs] * B[(size_t)k * ldb + j];
        const double want = (c.acc ? C0[(size_t)i * ldc + j] : 0.0) + alpha * sum;
        ASSERT_NEAR(C[(size_t)i * ldc + j], want, 1e-4 * (1 + std::fabs(want))) << "at (" << i << ", " << j << ")";
      }
    }
  }
}

// The harness's probs-cache cases compare the cached path only if the fast backend keeps
// probabilities at that shape; it does for training shapes up to T = 512, not for
// decoding (Tq < Tk) or longer sequences (T² floats), and the reference never does.
TEST(AttentionProbsCache, KeptForTrainingShapesOnly) {
  const AttnShape train = attn_shape(2, 150, 4, 4, 20, 12);
  EXPECT_GT(cpu_ops().attention_probs_floats(train), (size_t)2 * 4 * 150 * 150 / 2);  // at least the causal half
  EXPECT_EQ(reference_ops().attention_probs_floats(train), 0u);
  EXPECT_EQ(cpu_ops().attention_probs_floats(attn_shape(2, 150, 4, 4, 20, 12, 1)), 0u);
  EXPECT_EQ(cpu_ops().attention_probs_floats(attn_shape(1, 1024, 4, 4, 20, 12)), 0u);
  // the backward reads the cache: poisoned after the forward, it poisons the gradients
  {
    AttnShape s = train;
    AlignedFloats probs(cpu_ops().attention_probs_floats(s));
    s.probs = probs.data();
    Vec q = random_vec((size_t)s.B * s.Tq * s.ldq, 1), k = random_vec((size_t)s.B * s.Tk * s.ldk, 2),
        v = random_vec((size_t)s.B * s.Tk * s.ldv, 3), out((size_t)s.B * s.Tq * s.ldo), lse((size_t)s.B * s.H * s.Tq);
    cpu_ops().attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
    std::fill(probs.begin(), probs.end(), NAN);
    Vec dout = random_vec(out.size(), 4), dq(q.size()), dk(k.size()), dv(v.size());
    cpu_ops().attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(),
                                 k.data(), v.data(), s);
    EXPECT_TRUE(std::isnan(dv[0])) << "the backward did not read the probabilities the forward kept";
  }
  // the cache is written with aligned streaming stores: a misaligned buffer is refused
  AttnShape s = train;
  AlignedFloats probs(cpu_ops().attention_probs_floats(s) + 8);
  s.probs = probs.data() + 1;
  Vec q((size_t)s.B * s.Tq * s.ldq), k((size_t)s.B * s.Tk * s.ldk), v((size_t)s.B * s.Tk * s.ldv);
  Vec out((size_t)s.B * s.Tq * s.ldo), lse((size_t)s.B * s.H * s.Tq);
  EXPECT_THROW(cpu_ops().attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s), std::exception);
}

// packed_gemm (the weight gradients' kernel) against plain loops: tiles that fill the
// 6×16 register tile and ones that leave rows or columns over, one and several row blocks
// (96) and depth blocks (K split evenly up to 384; 385 gives two uneven-looking halves),
// every transpose, padded leading dimensions, beta 0 (C holds NaN: it must not be read),
// 1 (accumulate) and 0.5.
TEST(PackedGemm, MatchesPlainLoops) {
  ASSERT_TRUE(packed_gemm_available()) << "release builds target x86-64-v3 (AVX2 + FMA)";
  struct Case { int M, N, K; };
  const Case shapes[] = {{1, 1, 1}, {5, 17, 7}, {6, 16, 8}, {7, 15, 9}, {13, 33, 100},
                         {97, 50, 385}, {200, 37, 800}, {96, 64, 768}, {130, 260, 1030}};
  for (const Case& c : shapes)
    for (int t = 0; t < 4; t++)
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        if (c.M * c.N * c.K > 1000000 && beta == 1.0f) continue;  // the largest: beta 0 (NaN in C) and 0.5
        const bool ta = t & 1, tb = t & 2;
        SCOPED_TRACE("M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K) +
                     (ta ? " A^T" : "") + (tb ? " B^T" : "") + " beta " + std::to_string(beta));
        const int lda = (ta ? c.M : c.K) + 3, ldb = (tb ? c.K : c.N) + 5, ldc = c.N + 7;
        const Vec A = random_vec((size_t)(ta ? c.K : c.M) * lda, 1), B = random_vec((size_t)(tb ? c.N : c.K) * ldb, 2);
        const Vec C0 = random_vec((size_t)c.M * ldc, 3);
        Vec C = C0;
        if (beta == 0.0f) std::fill(C.begin(), C.end(), NAN);
        const float alpha = 0.7f;
        packed_gemm(ta, tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
        for (int i = 0; i < c.M; i++) {
          for (int j = 0; j < c.N; j++) {
            double sum = 0.0;
            for (int k = 0; k < c.K; k++)
              sum += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            const double want = (beta == 0.0f ? 0.0 : beta * C0[(size_t)i * ldc + j]) + alpha * sum;
            ASSERT_NEAR(C[(size_t)i * ldc + j], want, 1e-4 * (1 + std::fabs(want))) << "at (" << i << ", " << j << ")";
          }
          // the padding past column N is left alone
          for (int j = c.N; j < ldc && (size_t)i * ldc + j < C.size(); j++)
            if (beta == 0.0f) ASSERT_TRUE(std::isnan(C[(size_t)i * ldc + j])) << "padding at (" << i << ", " << j << ")";
            else ASSERT_EQ(C[(size_t)i * ldc + j], C0[(size_t)i * ldc + j]) << "padding at (" << i << ", " << j << ")";
        }
      }
}

// skinny_gemm (decoding's few-row products) against plain loops: every row count, weight
// rows that fill whole blocks of 4 and 2 and the ones left over, K below, at and past a
// vector with a tail, strided operands, beta 0 (C not read: NaN there must not leak) and not.
TEST(SkinnyGemm, MatchesPlainLoops) {
  for (int M = 1; M <= kSkinnyRows; M++)
    for (int N : {1, 2, 3, 5, 8, 9, 71})
      for (int K : {1, 7, 8, 16, 33, 130})
        for (float beta : {0.0f, 0.5f}) {
          SCOPED_TRACE("M " + std::to_string(M) + " N " + std::to_string(N) + " K " + std::to_string(K) +
                       " beta " + std::to_string(beta));
          const int lda = K + 3, ldb = K + 1, ldc = N + 2;
          const Vec A = random_vec((size_t)M * lda, 1), B = random_vec((size_t)N * ldb, 2);
          Vec C0 = random_vec((size_t)M * ldc, 3);
          if (beta == 0.0f) std::fill(C0.begin(), C0.end(), std::nanf(""));
          Vec C = C0;
          skinny_gemm_nt(M, N, K, 0.7f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
              double sum = 0.0;
              for (int k = 0; k < K; k++) sum += (double)A[(size_t)m * lda + k] * B[(size_t)n * ldb + k];
              const double want = 0.7 * sum + (beta == 0.0f ? 0.0 : beta * (double)C0[(size_t)m * ldc + n]);
              ASSERT_NEAR(C[(size_t)m * ldc + n], want, 1e-5 * (1 + std::fabs(want))) << "at (" << m << ", " << n << ")";
            }
        }
}

// The hand-vectorised row exponentials of attention against double-precision exp, on
// both instruction sets (AVX-512 where the CPU has it): every row length around the
// vector widths, -inf (hidden keys: exactly 0), very negative scores (underflow to 0,
// never a denormal garbage value) and NaN (kept, so a broken step still shows).
TEST(SoftmaxRows, MatchDoublePrecisionOnEveryInstructionSet) {
  struct Isa { const char* name; float (*exp_row)(float*, int, float*); void (*grad)(float*, float*, int, float, float, float); };
  std::vector<Isa> isas = {{"avx2", isa::exp_row_avx2, isa::softmax_grad_row_avx2}};
  if (isa::has_avx512()) isas.push_back({"avx512", isa::exp_row_avx512, isa::softmax_grad_row_avx512});
  for (const Isa& is : isas)
    for (int n : {1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100}) {
      SCOPED_TRACE(std::string(is.name) + " n " + std::to_string(n));
      Vec s = random_vec(n + 4, 5);
      for (float& x : s) x *= 8.0f;
      if (n > 3) s[2] = -INFINITY;
      if (n > 5) s[4] = -200.0f;
      const Vec in = s;
      float inv = 0.0f;
      const float lse = is.exp_row(s.data(), n, &inv);
      double mx = -INFINITY, sum = 0.0;
      for (int j = 0; j < n; j++) mx = std::max(mx, (double)in[j]);
      for (int j = 0; j < n; j++) sum += std::exp((double)in[j] - mx);
      EXPECT_NEAR(lse, mx + std::log(sum), 1e-5 * (1 + std::fabs(mx)));
      EXPECT_NEAR(inv, 1.0 / sum, 1e-6 / sum);
      for (int j = 0; j < n; j++) {
        const double want = std::exp((double)in[j] - mx);
        if (std::isinf(in[j]) || in[j] - mx < -87.0) EXPECT_EQ(s[j], 0.0f) << "at " << j;
        else  // relative: the polynomial's 2e-6 plus the float rounding of the argument x - max
          EXPECT_NEAR(s[j], want, want * (2e-6 + 1.2e-7 * std::fabs(in[j] - mx)) + 1e-30) << "at " << j;
      }
      for (int j = n; j < n + 4; j++) EXPECT_EQ(s[j], in[j]) << "wrote past the row at " << j;
      // backward: p from the saved lse, dp = p (dp - doo) scale
      Vec p = in, dp = random_vec(n + 4, 6);
      const Vec dp0 = dp;
      is.grad(p.data(), dp.data(), n, lse, 0.3f, 0.5f);
      for (int j = 0; j < n; j++) {
        const double pj = std::isinf(in[j]) ? 0.0 : std::exp((double)in[j] - lse);
        if (std::isinf(in[j])) EXPECT_EQ(p[j], 0.0f) << "at " << j;
        else EXPECT_NEAR(p[j], pj, pj * (2e-6 + 1.2e-7 * std::fabs(in[j] - lse)) + 1e-30) << "at " << j;
        EXPECT_NEAR(dp[j], pj * (dp0[j] - 0.3) * 0.5, 1e-5 * (1 + std::fabs(dp0[j]))) << "at " << j;
      }
      for (int j = n; j < n + 4; j++) EXPECT_EQ(dp[j], dp0[j]) << "wrote past the row at " << j;
      Vec bad = {1.0f, NAN, 2.0f};
      is.grad(bad.data(), dp.data(), 3, 0.0f, 0.0f, 1.0f);
      EXPECT_TRUE(std::isnan(bad[1])) << "NaN must survive the exponential";
    }
}

TEST(OpGrad, SwiGlu) {
  Ops& o = reference_ops();
  const int N = 4, I = 9;
  Vec gu = random_vec(N * 2 * I, 1, 2.0), R = random_vec(N * I, 2), h(N * I), dgu(N * 2 * I);
  auto L = [&] { o.swiglu_forward(h.data(), gu.data(), N, I); return dot(h, R); };
  o.swiglu_backward(dgu.data(), R.data(), gu.data(), N, I);
  expect_grad("dgu", gu, dgu, L);
}

TEST(OpGrad, MaskedCrossEntropy) {
  Ops& o = reference_ops();
  const int N = 6, V = 20;
  Vec logits = random_vec(N * V, 1, 2.0), loss(N), dl = {0.5f, 1.0f, 0.0f, 2.0f, 1.0f, 0.25f}, d(N * V);
  std::vector<int32_t> t = {3, 19, 0, -1, 7, 7};  // -1: not scored
  auto L = [&] { o.xent_forward(loss.data(), logits.data(), t.data(), N, V); return dot(loss, dl); };
  o.xent_backward(d.data(), logits.data(), t.data(), dl.data(), N, V);
  expect_grad("dlogits", logits, d, L);
  for (int v = 0; v < V; v++) EXPECT_EQ(d[3 * V + v], 0.0f) << "unscored row has no gradient";
}

TEST(OpGrad, GatherAndScatterAreAdjoint) {
  Ops& o = reference_ops();
  const int N = 6, M = 10, C = 4;
  std::vector<int32_t> idx = {0, 5, 5, 2, 1, 0, 3, 3, 3, 4};
  Vec x = random_vec(N * C, 1), y = random_vec(M * C, 2), w = random_vec(M, 3), gx(M * C), sy(N * C, 0.0f);
  o.gather_rows(gx.data(), x.data(), idx.data(), w.data(), M, C);
  o.scatter_add_rows(sy.data(), y.data(), idx.data(), w.data(), M, C);
  EXPECT_NEAR(dot(gx, y), dot(x, sy), 1e-4);  // <G x, y> = <x, Gᵀ y>
  // MLA expansion and its backward are adjoint too
  const int H = 2, dn = 3, dr = 2, dv = 4;
  Vec kv = random_vec(N * H * (dn + dv), 4), kpe = random_vec(N * dr, 5), k(N * H * (dn + dr)), v(N * H * dv);
  Vec rk = random_vec(k.size(), 6), rv = random_vec(v.size(), 7), dkv(kv.size()), dkpe(kpe.size());
  o.mla_expand_kv(k.data(), v.data(), kv.data(), kpe.data(), N, H, dn, dr, dv);
  o.mla_expand_kv_backward(dkv.data(), dkpe.data(), rk.data(), rv.data(), N, H, dn, dr, dv);
  EXPECT_NEAR(dot(k, rk) + dot(v, rv), dot(kv, dkv) + dot(kpe, dkpe), 1e-4);
}

}  // namespace
}  // namespace aha::kernels
