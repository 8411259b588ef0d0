// The scalar oracle: plain loops that can be checked against the math. The
// SIMD paths are tested against these functions, and SURGE_KERNELS=reference
// runs the whole engine on them.
//
// Quantized MatMul (Q8_0 / Q4_0 weights) defines the arithmetic every path
// reproduces bit for bit: activations are quantized per 32-block with
// QuantizeActivationBlock(), each block's exact integer dot product isum_b is
// formed, and acc = fmaf((float)isum_b, d_w * d_x, acc) runs over the blocks
// in order, from acc = 0.
//
// Thread safety: reentrant; MatMul uses the given pool (split by rows only).
#pragma once

#include <cstdint>

#include "engine/kernels/ops.h"

namespace surge::engine::kernels::reference {

// Activation quantization for integer MatMul: d = max|x| / 127,
// q = round-to-nearest-even(x * (1 / d)) (q = 0 when d == 0).
void QuantizeActivationBlock(const float* x, float* d, int8_t* q);

void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t x_stride, int64_t n_tokens,
            float* out, int64_t out_stride, MatMulScratch& scratch);
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void Rope(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style);
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
void Add(float* y, const float* x, int64_t n);
void ToHalf(const float* x, int64_t n, uint16_t* out);
void AttendPaged(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                 float* scores, float* out);

}  // namespace surge::engine::kernels::reference
