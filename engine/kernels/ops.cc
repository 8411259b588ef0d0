// Public entry points of ops.h: forward to the active path's table.
#include "engine/kernels/ops.h"

#include "base/check.h"
#include "engine/kernels/kernel_table.h"

namespace surge::engine::kernels {

void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t x_stride, int64_t n_tokens,
            float* out, int64_t out_stride, MatMulScratch& scratch) {
  if (n_tokens <= 0 || w.rows <= 0) return;
  SURGE_CHECK(w.cols % Traits(w.type).block_size == 0);
  internal::ActiveOps().matmul(pool, w, x, x_stride, n_tokens, out, out_stride, scratch);
}

void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  internal::ActiveOps().rms_norm(x, weight, n, eps, out);
}

void Rope(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style) {
  internal::ActiveOps().rope(x, n_heads, head_dim, pos, freq_base, style);
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  internal::ActiveOps().silu_mul(gate, up, n, out);
}

void Add(float* y, const float* x, int64_t n) { internal::ActiveOps().add(y, x, n); }

void AttendPaged(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                 float* scores, float* out) {
  internal::ActiveOps().attend(q, kv, kv_head, n_ctx, scale, scores, out);
}

}  // namespace surge::engine::kernels
