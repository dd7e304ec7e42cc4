// Attention scores of a few query vectors against a long cache (the decoding kernel's
// first half; CpuOps::decode_attention does the softmax and P·V).
#pragma once

namespace aha::kernels {

// S[m, j] = scale · q_m · k_j for m < M4 (Q packed [M4, Dk], M4 a multiple of 4 — pad
// with zero rows) and every key row k_j at K + j·ldk, j < Tk. S is [M4, Tk].
void decode_scores(float* S, int Tk, const float* Q, int M4, int Dk, const float* K, long ldk, float scale);

}  // namespace aha::kernels
