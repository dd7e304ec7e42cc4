// The DeepSeekMoE gate (DeepSeek-V3 §2.1, inference/model.py Gate.forward):
//   s = sigmoid(x·W_gᵀ) (softmax as an option)
//   group-limited choice: a group's score is the sum of its top-2 biased scores
//     (s + b); only the best topk_group groups stay eligible
//   top-K experts by biased score among the eligible ones
//   gate values from the UNBIASED scores, normalised over the K chosen, × scaling
// The bias b only steers the choice; it gets no gradient (it is moved by the
// auxiliary-loss-free rule after each step, Model::update_router_bias).
// Complementary sequence-wise balance loss (eq. 17-20):
//   L = α · mean_b Σ_i f_i P_i,  f_i = E/(K·T) · #{t : i ∈ TopK_t},  P_i = mean_t s_{i,t}/Σ_j s_{j,t}
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/layers.h"

namespace aha {

// Fewer tokens than this are routed on the calling thread: decoding routes one or two
// tokens per call, and forking the OpenMP team for them cost more than the routing.
constexpr int kParallelTokens = 64;

namespace {
// Stable sort of a few indices (E experts or G groups) without allocating.
template <class Less>
void insertion_sort(int* a, int n, Less less) {
  for (int i = 1; i < n; i++) {
    const int x = a[i];
    int j = i - 1;
    while (j >= 0 && less(x, a[j])) { a[j + 1] = a[j]; j--; }
    a[j + 1] = x;
  }
}
}  // namespace

void route_forward(const ModelConfig& c, RouterActs& r, const float* bias, int B, int T) {
  const int N = B * T, E = c.n_routed_experts, K = c.num_experts_per_tok;
  const int G = c.n_group, per = E / G, TG = c.topk_group;
  const bool sigmoid = c.scoring_func == "sigmoid";
  ensure(r.scores, (size_t)N * E); ensure(r.gate, (size_t)N * K); ensure(r.f, (size_t)B * E);
  r.topk.resize((size_t)N * K);

  // Tokens are independent: one parallel loop. Per-thread scratch is allocated before the
  // region (an exception inside one would terminate the process).
  const int nt = omp_get_max_threads(), W = std::max(E, G);
  std::vector<float> biased_all((size_t)E * nt), gscore_all((size_t)G * nt);
  std::vector<int> order_all((size_t)W * nt);
  std::vector<char> eligible_all((size_t)E * nt);
#pragma omp parallel num_threads(nt) if (N >= kParallelTokens)
  {
  const int th = omp_get_thread_num();
  float* biased = biased_all.data() + (size_t)E * th;
  float* gscore = gscore_all.data() + (size_t)G * th;
  int* order = order_all.data() + (size_t)W * th;
  char* eligible = eligible_all.data() + (size_t)E * th;
#pragma omp for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* l = r.logits.data() + (size_t)n * E;
    float* s = r.scores.data() + (size_t)n * E;
    if (sigmoid) {
      for (int e = 0; e < E; e++) s[e] = 1.0f / (1.0f + std::exp(-l[e]));
    } else {
      float mx = *std::max_element(l, l + E), sum = 0.0f;
      for (int e = 0; e < E; e++) { s[e] = std::exp(l[e] - mx); sum += s[e]; }
      for (int e = 0; e < E; e++) s[e] /= sum;
    }
    for (int e = 0; e < E; e++) biased[e] = s[e] + bias[e];

    // group limit
    std::fill(eligible, eligible + E, 1);
    if (G > 1) {
      for (int g = 0; g < G; g++) {
        float a = -INFINITY, b = -INFINITY;  // the two largest biased scores of the group
        for (int e = g * per; e < (g + 1) * per; e++) {
          if (biased[e] > a) { b = a; a = biased[e]; } else if (biased[e] > b) b = biased[e];
        }
        gscore[g] = a + b;
      }
      std::iota(order, order + G, 0);
      // insertion sort: stable, allocation-free (std::stable_sort may allocate)
      insertion_sort(order, G, [&](int x, int y) { return gscore[x] > gscore[y]; });
      std::fill(eligible, eligible + E, 0);
      for (int i = 0; i < TG; i++)
        for (int e = order[i] * per; e < (order[i] + 1) * per; e++) eligible[e] = 1;
    }
    // top-K among eligible experts by biased score (ties: lower index first)
    std::iota(order, order + E, 0);
    insertion_sort(order, E, [&](int x, int y) {
      if (eligible[x] != eligible[y]) return eligible[x] > eligible[y];
      return biased[x] > biased[y];
    });
    int32_t* idx = r.topk.data() + (size_t)n * K;
    float* gv = r.gate.data() + (size_t)n * K;
    float sum = 0.0f;
    for (int k = 0; k < K; k++) { idx[k] = order[k]; gv[k] = s[order[k]]; sum += gv[k]; }
    const float norm = c.norm_topk_prob ? 1.0f / (sum + 1e-20f) : 1.0f;
    for (int k = 0; k < K; k++) gv[k] *= norm * (float)c.routed_scaling_factor;
  }
  }  // omp parallel

  // balance loss, per sequence
  r.balance_loss = 0.0;
  for (int b = 0; b < B; b++) {
    float* f = r.f.data() + (size_t)b * E;
    std::fill(f, f + E, 0.0f);
    for (int t = 0; t < T; t++)
      for (int k = 0; k < K; k++) f[r.topk[((size_t)b * T + t) * K + k]] += 1.0f;
    for (int e = 0; e < E; e++) f[e] *= (float)E / (K * T);
    if (c.aux_loss_alpha <= 0) continue;
    std::vector<double> P(E, 0.0);
    for (int t = 0; t < T; t++) {
      const float* s = r.scores.data() + ((size_t)b * T + t) * E;
      double tot = 0.0;
      for (int e = 0; e < E; e++) tot += s[e];
      for (int e = 0; e < E; e++) P[e] += s[e] / tot / T;
    }
    double l = 0.0;
    for (int e = 0; e < E; e++) l += f[e] * P[e];
    r.balance_loss += c.aux_loss_alpha * l / B;
  }
}

void route_backward(const ModelConfig& c, RouterActs& r, int B, int T, double balance_scale) {
  const int N = B * T, E = c.n_routed_experts, K = c.num_experts_per_tok;
  const bool sigmoid = c.scoring_func == "sigmoid";
  const float scaling = (float)c.routed_scaling_factor;
  ensure(r.dlogits, (size_t)N * E);
  const int nt = omp_get_max_threads();
  std::vector<double> ds_all((size_t)E * nt);  // outside the region: no throw inside it
#pragma omp parallel num_threads(nt) if (N >= kParallelTokens)
  {
  double* ds = ds_all.data() + (size_t)E * omp_get_thread_num();
#pragma omp for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* s = r.scores.data() + (size_t)n * E;
    const int32_t* idx = r.topk.data() + (size_t)n * K;
    const float* dg = r.dgate.data() + (size_t)n * K;
    std::fill(ds, ds + E, 0.0);
    // gate g_k = scaling · s_k / S (S = Σ_j s_j over the chosen), or scaling · s_k
    if (c.norm_topk_prob) {
      double S = 0.0, dot = 0.0;
      for (int k = 0; k < K; k++) { S += s[idx[k]]; dot += (double)dg[k] * s[idx[k]]; }
      S += 1e-20;
      for (int k = 0; k < K; k++) ds[idx[k]] += scaling * (dg[k] / S - dot / (S * S));
    } else {
      for (int k = 0; k < K; k++) ds[idx[k]] += scaling * dg[k];
    }
    // balance loss through P: dL/ds'_i = scale·α·f_i/(T·B); s' = s / Σ s
    if (c.aux_loss_alpha > 0 && balance_scale != 0.0) {
      const float* f = r.f.data() + (size_t)(n / T) * E;
      double tot = 0.0, dot = 0.0;
      for (int e = 0; e < E; e++) tot += s[e];
      const double coef = balance_scale * c.aux_loss_alpha / ((double)T * B);
      for (int e = 0; e < E; e++) dot += coef * f[e] * s[e] / tot;
      for (int e = 0; e < E; e++) ds[e] += (coef * f[e] - dot) / tot;
    }
    float* dl = r.dlogits.data() + (size_t)n * E;
    if (sigmoid) {
      for (int e = 0; e < E; e++) dl[e] = (float)(ds[e] * s[e] * (1.0 - s[e]));
    } else {
      double dot = 0.0;
      for (int e = 0; e < E; e++) dot += ds[e] * s[e];
      for (int e = 0; e < E; e++) dl[e] = (float)(s[e] * (ds[e] - dot));
    }
  }
  }  // omp parallel
}

}  // namespace aha
