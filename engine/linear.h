// y = x·Wᵀ for a Linear weight W [out, in] (no bias, as in DeepSeek-V3), and its two
// backward GEMMs. `ldw` lets a Linear be a row block of a larger weight.
#pragma once
#include "kernels/cpu/ops.h"

namespace aha {

// y[N,out] = x[N,in] · W[out,in]ᵀ  (beta = 1 adds into y)
inline void linear_fwd(kernels::Ops& ops, float* y, const float* x, const float* W, int N, int in,
                       int out, float beta = 0.0f, int ldx = 0, int ldw = 0, int ldy = 0) {
  ops.gemm(false, true, N, out, in, 1.0f, x, ldx ? ldx : in, W, ldw ? ldw : in, beta, y,
           ldy ? ldy : out);
}
// dx[N,in] (=|+=) dy[N,out] · W[out,in]
inline void linear_bwd_dx(kernels::Ops& ops, float* dx, const float* dy, const float* W, int N,
                          int in, int out, float beta = 0.0f, int lddy = 0, int ldw = 0,
                          int lddx = 0) {
  ops.gemm(false, false, N, in, out, 1.0f, dy, lddy ? lddy : out, W, ldw ? ldw : in, beta, dx,
           lddx ? lddx : in);
}
// dW[out,in] += dy[N,out]ᵀ · x[N,in]
inline void linear_bwd_dw(kernels::Ops& ops, float* dW, const float* dy, const float* x, int N,
                          int in, int out, int lddy = 0, int ldx = 0, int lddw = 0) {
  ops.gemm(true, false, out, in, N, 1.0f, dy, lddy ? lddy : out, x, ldx ? ldx : in, 1.0f, dW,
           lddw ? lddw : in);
}

}  // namespace aha
