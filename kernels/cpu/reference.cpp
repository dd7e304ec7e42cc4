// The reference backend: the plain definition of every op. Never optimised — no
// intrinsics, no threads, no BLAS — so that it stays obviously right. Sums that
// decide accuracy (norms, softmax, losses) are accumulated in double.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/reference.h"

namespace aha::kernels {

void ReferenceOps::gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                        int lda, const float* B, int ldb, float beta, float* C, int ldc,
                        Precision) {
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < N; j++) {
      double acc = 0.0;
      for (int k = 0; k < K; k++) {
        float a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        float b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        acc += (double)a * b;
      }
      float& c = C[(size_t)i * ldc + j];
      c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * c));
    }
  }
}

void ReferenceOps::axpy(float* y, const float* x, float a, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void ReferenceOps::copy2d(float* dst, int ldd, const float* src, int lds, int rows, int cols,
                          bool add) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      float& d = dst[(size_t)r * ldd + c];
      d = add ? d + src[(size_t)r * lds + c] : src[(size_t)r * lds + c];
    }
}

void ReferenceOps::rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight,
                                   int N, int C, float eps) {
  for (int n = 0; n < N; n++) {
    const float* x = inp + (size_t)n * C;
    double ss = 0.0;
    for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
    float r = (float)(1.0 / std::sqrt(ss / C + eps));
    rstd[n] = r;
    for (int c = 0; c < C; c++) out[(size_t)n * C + c] = x[c] * r * weight[c];
  }
}

void ReferenceOps::rmsnorm_backward(float* dinp, float* dweight, const float* dout,
                                    const float* inp, const float* weight, const float* rstd,
                                    int N, int C) {
  // y = x * r * w, r = (mean(x^2)+eps)^-1/2
  // dx = r * (dy*w) - x * r^3 * mean(dy*w*x)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (size_t)n * C;
    const float* dy = dout + (size_t)n * C;
    double r = rstd[n];
    double dot = 0.0;
    for (int c = 0; c < C; c++) dot += (double)dy[c] * weight[c] * x[c];
    double coef = r * r * r * dot / C;
    for (int c = 0; c < C; c++) {
      dinp[(size_t)n * C + c] = (float)(r * dy[c] * weight[c] - x[c] * coef);
      dweight[c] += (float)((double)dy[c] * x[c] * r);
    }
  }
}

void ReferenceOps::rope(float* x, int ld, int off, int R, const int* pos, int rows_per_pos, int N,
                        float theta, bool inverse) {
  for (int n = 0; n < N; n++) {
    float* v = x + (size_t)n * ld + off;
    double p = pos[n / rows_per_pos];
    for (int j = 0; j < R / 2; j++) {
      double freq = std::pow((double)theta, -2.0 * j / R);
      double ang = p * freq * (inverse ? -1.0 : 1.0);
      double c = std::cos(ang), s = std::sin(ang);
      double a = v[2 * j], b = v[2 * j + 1];
      v[2 * j] = (float)(a * c - b * s);
      v[2 * j + 1] = (float)(a * s + b * c);
    }
  }
}

namespace {
// The keys [begin, end) query (b, t) skips besides the causal future (AttnShape's gaps).
struct Gap {
  int begin = 0, end = 0;
  bool hides(int j) const { return j >= begin && j < end; }
};
Gap gap_of(const AttnShape& s, int b, int t) {
  if (!s.gap_begin) return {};
  const size_t n = (size_t)b * s.Tq + t;
  return {s.gap_begin[n], s.gap_end[n]};
}
}  // namespace

void ReferenceOps::attention_forward(float* out, float* lse, const float* q, const float* k,
                                     const float* v, const AttnShape& s) {
  const int group = s.H / s.Hkv;
  std::vector<double> sc(s.Tk);
  for (int b = 0; b < s.B; b++)
    for (int h = 0; h < s.H; h++) {
      const int g = h / group;
      for (int t = 0; t < s.Tq; t++) {
        const int last = s.Tk - s.Tq + t;  // absolute position of this query
        const Gap gap = gap_of(s, b, t);
        const float* qv = q + ((size_t)b * s.Tq + t) * s.ldq + (size_t)h * s.Dk;
        double mx = -INFINITY;
        for (int j = 0; j <= last; j++) {
          if (gap.hides(j)) continue;
          const float* kv = k + ((size_t)b * s.Tk + j) * s.ldk + (size_t)g * s.Dk;
          double d = 0.0;
          for (int i = 0; i < s.Dk; i++) d += (double)qv[i] * kv[i];
          sc[j] = d * s.scale;
          mx = std::max(mx, sc[j]);
        }
        double sum = 0.0;
        for (int j = 0; j <= last; j++)
          if (!gap.hides(j)) sum += std::exp(sc[j] - mx);
        lse[((size_t)b * s.H + h) * s.Tq + t] = (float)(mx + std::log(sum));
        float* o = out + ((size_t)b * s.Tq + t) * s.ldo + (size_t)h * s.Dv;
        for (int i = 0; i < s.Dv; i++) {
          double acc = 0.0;
          for (int j = 0; j <= last; j++)
            if (!gap.hides(j))
              acc += std::exp(sc[j] - mx) / sum * v[((size_t)b * s.Tk + j) * s.ldv + (size_t)g * s.Dv + i];
          o[i] = (float)acc;
        }
      }
    }
}

void ReferenceOps::attention_backward(float* dq, float* dk, float* dv, const float* dout,
                                      const float* out, const float* lse, const float* q,
                                      const float* k, const float* v, const AttnShape& s) {
  // p_tj = exp(q_t·k_j·scale - lse_t);  o_t = Σ_j p_tj v_j
  // dv_j += p_tj do_t;  dp_tj = do_t·v_j;  ds_tj = p_tj (dp_tj - do_t·o_t)
  // dq_t += scale Σ_j ds_tj k_j;  dk_j += scale ds_tj q_t
  const int group = s.H / s.Hkv;
  auto zero_rows = [](float* p, int rows, int ld, int heads, int D) {
    for (int r = 0; r < rows; r++) std::memset(p + (size_t)r * ld, 0, sizeof(float) * heads * D);
  };
  zero_rows(dq, s.B * s.Tq, s.ldq, s.H, s.Dk);
  zero_rows(dk, s.B * s.Tk, s.ldk, s.Hkv, s.Dk);
  zero_rows(dv, s.B * s.Tk, s.ldv, s.Hkv, s.Dv);
  for (int b = 0; b < s.B; b++)
    for (int h = 0; h < s.H; h++) {
      const int g = h / group;
      for (int t = 0; t < s.Tq; t++) {
        const int last = s.Tk - s.Tq + t;
        const float* qv = q + ((size_t)b * s.Tq + t) * s.ldq + (size_t)h * s.Dk;
        const float* dov = dout + ((size_t)b * s.Tq + t) * s.ldo + (size_t)h * s.Dv;
        const float* ov = out + ((size_t)b * s.Tq + t) * s.ldo + (size_t)h * s.Dv;
        float* dqv = dq + ((size_t)b * s.Tq + t) * s.ldq + (size_t)h * s.Dk;
        const double l = lse[((size_t)b * s.H + h) * s.Tq + t];
        double doo = 0.0;
        for (int i = 0; i < s.Dv; i++) doo += (double)dov[i] * ov[i];
        const Gap gap = gap_of(s, b, t);
        for (int j = 0; j <= last; j++) {
          if (gap.hides(j)) continue;
          const float* kv = k + ((size_t)b * s.Tk + j) * s.ldk + (size_t)g * s.Dk;
          const float* vv = v + ((size_t)b * s.Tk + j) * s.ldv + (size_t)g * s.Dv;
          float* dkv = dk + ((size_t)b * s.Tk + j) * s.ldk + (size_t)g * s.Dk;
          float* dvv = dv + ((size_t)b * s.Tk + j) * s.ldv + (size_t)g * s.Dv;
          double d = 0.0;
          for (int i = 0; i < s.Dk; i++) d += (double)qv[i] * kv[i];
          double p = std::exp(d * s.scale - l);
          double dp = 0.0;
          for (int i = 0; i < s.Dv; i++) {
            dp += (double)dov[i] * vv[i];
            dvv[i] += (float)(p * dov[i]);
          }
          double ds = p * (dp - doo) * s.scale;
          for (int i = 0; i < s.Dk; i++) {
            dqv[i] += (float)(ds * kv[i]);
            dkv[i] += (float)(ds * qv[i]);
          }
        }
      }
    }
}

void ReferenceOps::mla_expand_kv(float* k, float* v, const float* kv, const float* kpe, int N,
                                 int H, int dn, int dr, int dv) {
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++) {
      const float* src = kv + ((size_t)n * H + h) * (dn + dv);
      float* kd = k + ((size_t)n * H + h) * (dn + dr);
      for (int i = 0; i < dn; i++) kd[i] = src[i];
      for (int i = 0; i < dr; i++) kd[dn + i] = kpe[(size_t)n * dr + i];
      for (int i = 0; i < dv; i++) v[((size_t)n * H + h) * dv + i] = src[dn + i];
    }
}

void ReferenceOps::mla_expand_kv_backward(float* dkv, float* dkpe, const float* dk, const float* dv,
                                          int N, int H, int dn, int dr, int dv_dim) {
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < dr; i++) dkpe[(size_t)n * dr + i] = 0.0f;
    for (int h = 0; h < H; h++) {
      float* d = dkv + ((size_t)n * H + h) * (dn + dv_dim);
      const float* kd = dk + ((size_t)n * H + h) * (dn + dr);
      for (int i = 0; i < dn; i++) d[i] = kd[i];
      for (int i = 0; i < dv_dim; i++) d[dn + i] = dv[((size_t)n * H + h) * dv_dim + i];
      for (int i = 0; i < dr; i++) dkpe[(size_t)n * dr + i] += kd[dn + i];
    }
  }
}

void ReferenceOps::swiglu_forward(float* h, const float* gu, int N, int I) {
  for (int n = 0; n < N; n++)
    for (int i = 0; i < I; i++) {
      double a = gu[(size_t)n * 2 * I + i], u = gu[(size_t)n * 2 * I + I + i];
      h[(size_t)n * I + i] = (float)(a / (1.0 + std::exp(-a)) * u);
    }
}

void ReferenceOps::swiglu_backward(float* dgu, const float* dh, const float* gu, int N, int I) {
  for (int n = 0; n < N; n++)
    for (int i = 0; i < I; i++) {
      double a = gu[(size_t)n * 2 * I + i], u = gu[(size_t)n * 2 * I + I + i];
      double sg = 1.0 / (1.0 + std::exp(-a));
      double d = dh[(size_t)n * I + i];
      dgu[(size_t)n * 2 * I + i] = (float)(d * u * sg * (1.0 + a * (1.0 - sg)));
      dgu[(size_t)n * 2 * I + I + i] = (float)(d * a * sg);
    }
}

void ReferenceOps::gather_rows(float* dst, const float* src, const int32_t* idx, const float* w,
                               int M, int C) {
  for (int m = 0; m < M; m++)
    for (int c = 0; c < C; c++) dst[(size_t)m * C + c] = (w ? w[m] : 1.0f) * src[(size_t)idx[m] * C + c];
}

void ReferenceOps::scatter_add_rows(float* dst, const float* src, const int32_t* idx,
                                    const float* w, int M, int C) {
  for (int m = 0; m < M; m++) {
    float wm = w ? w[m] : 1.0f;
    for (int c = 0; c < C; c++) dst[(size_t)idx[m] * C + c] += wm * src[(size_t)m * C + c];
  }
}

void ReferenceOps::gather_rowdot(float* out, const float* a, const int32_t* idx, const float* b,
                                 int M, int C) {
  for (int m = 0; m < M; m++) {
    double d = 0.0;
    for (int c = 0; c < C; c++) d += (double)a[(size_t)idx[m] * C + c] * b[(size_t)m * C + c];
    out[m] = (float)d;
  }
}

void ReferenceOps::xent_forward(float* loss, const float* logits, const int32_t* target, int N,
                                int V) {
  for (int n = 0; n < N; n++) {
    if (target[n] < 0) { loss[n] = 0.0f; continue; }
    const float* l = logits + (size_t)n * V;
    double mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = std::max(mx, (double)l[i]);
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += std::exp(l[i] - mx);
    loss[n] = (float)(mx + std::log(sum) - l[target[n]]);
  }
}

void ReferenceOps::xent_backward(float* dlogits, const float* logits, const int32_t* target,
                                 const float* dloss, int N, int V) {
  std::vector<double> row(V);
  for (int n = 0; n < N; n++) {
    const float* l = logits + (size_t)n * V;
    float* d = dlogits + (size_t)n * V;
    if (target[n] < 0) { std::fill(d, d + V, 0.0f); continue; }
    double mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = std::max(mx, (double)l[i]);
    double sum = 0.0;
    for (int i = 0; i < V; i++) { row[i] = std::exp(l[i] - mx); sum += row[i]; }
    for (int i = 0; i < V; i++)
      d[i] = (float)(dloss[n] * (row[i] / sum - (i == target[n] ? 1.0 : 0.0)));
  }
}

void ReferenceOps::adamw(float* p, const float* g, float* m, float* v, size_t n, float lr, float b1,
                         float b2, float eps, float wd, float bc1, float bc2, float gscale) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i] * gscale;
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    float mh = m[i] / bc1, vh = v[i] / bc2;
    p[i] -= lr * (mh / (std::sqrt(vh) + eps) + wd * p[i]);
  }
}

double ReferenceOps::sumsq(const float* x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

Ops& reference_ops() {
  static ReferenceOps ops;
  return ops;
}

}  // namespace aha::kernels
