// ForwardingOps: a backend that hands every op to another one. Decorators (PrecisionOps)
// derive from it and override only what they change.
#pragma once
#include "kernels/cpu/ops.h"

namespace aha::kernels {

class ForwardingOps : public Ops {
 public:
  explicit ForwardingOps(Ops& inner) : in_(inner) {}
  Ops& inner() { return in_; }
  const char* name() const override { return in_.name(); }
  void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
            const float* B, int ldb, float beta, float* C, int ldc, Precision p) override {
    in_.gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, p);
  }
  void axpy(float* y, const float* x, float a, size_t n) override { in_.axpy(y, x, a, n); }
  void copy2d(float* d, int ldd, const float* s, int lds, int r, int c, bool add) override {
    in_.copy2d(d, ldd, s, lds, r, c, add);
  }
  void rmsnorm_forward(float* o, float* r, const float* x, const float* w, int N, int C, float eps) override {
    in_.rmsnorm_forward(o, r, x, w, N, C, eps);
  }
  void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, const float* r, int N, int C) override {
    in_.rmsnorm_backward(dx, dw, dy, x, w, r, N, C);
  }
  void rope(float* x, int ld, int off, int R, const int* pos, int rpp, int N, float theta, bool inv) override {
    in_.rope(x, ld, off, R, pos, rpp, N, theta, inv);
  }
  size_t attention_probs_floats(const AttnShape& s) const override { return in_.attention_probs_floats(s); }
  void attention_forward(float* o, float* lse, const float* q, const float* k, const float* v, const AttnShape& s) override {
    in_.attention_forward(o, lse, q, k, v, s);
  }
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                          const float* q, const float* k, const float* v, const AttnShape& s) override {
    in_.attention_backward(dq, dk, dv, dout, out, lse, q, k, v, s);
  }
  void mla_expand_kv(float* k, float* v, const float* kv, const float* kpe, int N, int H, int dn, int dr, int dv) override {
    in_.mla_expand_kv(k, v, kv, kpe, N, H, dn, dr, dv);
  }
  void mla_expand_kv_backward(float* dkv, float* dkpe, const float* dk, const float* dv, int N, int H, int dn, int dr,
                              int dvd) override {
    in_.mla_expand_kv_backward(dkv, dkpe, dk, dv, N, H, dn, dr, dvd);
  }
  void swiglu_forward(float* h, const float* gu, int N, int I) override { in_.swiglu_forward(h, gu, N, I); }
  void swiglu_backward(float* dgu, const float* dh, const float* gu, int N, int I) override {
    in_.swiglu_backward(dgu, dh, gu, N, I);
  }
  void gather_rows(float* d, const float* s, const int32_t* idx, const float* w, int M, int C) override {
    in_.gather_rows(d, s, idx, w, M, C);
  }
  void scatter_add_rows(float* d, const float* s, const int32_t* idx, const float* w, int M, int C) override {
    in_.scatter_add_rows(d, s, idx, w, M, C);
  }
  void gather_rowdot(float* o, const float* a, const int32_t* idx, const float* b, int M, int C) override {
    in_.gather_rowdot(o, a, idx, b, M, C);
  }
  void xent_forward(float* l, const float* lg, const int32_t* t, int N, int V) override { in_.xent_forward(l, lg, t, N, V); }
  void xent_backward(float* d, const float* lg, const int32_t* t, const float* dl, int N, int V) override {
    in_.xent_backward(d, lg, t, dl, N, V);
  }
  void adamw(float* p, const float* g, float* m, float* v, size_t n, float lr, float b1, float b2, float eps, float wd,
             float bc1, float bc2, float gs) override {
    in_.adamw(p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2, gs);
  }
  double sumsq(const float* x, size_t n) override { return in_.sumsq(x, n); }

  float* stash_begin(Stash& s, int rows, int cols) override { return in_.stash_begin(s, rows, cols); }
  void stash_seal(Stash& s) override { in_.stash_seal(s); }
  const float* stash_open(Stash& s) override { return in_.stash_open(s); }
  void stash_close(Stash& s) override { in_.stash_close(s); }

 protected:
  Ops& in_;
};

}  // namespace aha::kernels
