// CpuOps: the fast CPU backend (see ops.h for shapes, fast.cpp for how).
#pragma once
#include "kernels/cpu/reference.h"

namespace aha::kernels {

class CpuOps : public ReferenceOps {
 public:
  const char* name() const override { return "cpu"; }
  void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc, Precision p = Precision::FP32) override;
  void axpy(float* y, const float* x, float a, size_t n) override;
  void copy2d(float* dst, int ldd, const float* src, int lds, int rows, int cols, bool add) override;
  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps) override;
  void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight, const float* rstd, int N, int C) override;
  void rope(float* x, int ld, int off, int R, const int* pos, int rows_per_pos, int N, float theta, bool inverse) override;
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, const AttnShape& s) override;
  size_t attention_probs_floats(const AttnShape& s) const override;
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse, const float* q, const float* k, const float* v, const AttnShape& s) override;
  void mla_expand_kv(float* k, float* v, const float* kv, const float* kpe, int N, int H, int dn, int dr, int dv) override;
  void mla_expand_kv_backward(float* dkv, float* dkpe, const float* dk, const float* dv, int N, int H, int dn, int dr, int dv_dim) override;
  void swiglu_forward(float* h, const float* gu, int N, int I) override;
  void swiglu_backward(float* dgu, const float* dh, const float* gu, int N, int I) override;
  void gather_rows(float* dst, const float* src, const int32_t* idx, const float* w, int M, int C) override;
  void scatter_add_rows(float* dst, const float* src, const int32_t* idx, const float* w, int M, int C) override;
  void gather_rowdot(float* out, const float* a, const int32_t* idx, const float* b, int M, int C) override;
  void xent_forward(float* loss, const float* logits, const int32_t* target, int N, int V) override;
  void xent_backward(float* dlogits, const float* logits, const int32_t* target, const float* dloss, int N, int V) override;
  void adamw(float* p, const float* g, float* m, float* v, size_t n, float lr, float b1, float b2, float eps, float wd, float bc1, float bc2, float gscale) override;
  double sumsq(const float* x, size_t n) override;

 private:
  // attention_forward for a few queries against a long cache (decoding)
  void decode_attention(float* out, float* lse, const float* q, const float* k, const float* v, const AttnShape& s);
};

}  // namespace aha::kernels
