// Public entry points of ops.h: forward to the active path's table (the
// rotary angles and rotation, which every path shares, directly).
#include "engine/kernels/ops.h"

#include <algorithm>
#include <iterator>

#include "base/check.h"
#include "engine/kernels/cpu/rope.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/thread_pool.h"

namespace surge::engine::kernels {

void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t x_stride, int64_t n_tokens,
            float* out, int64_t out_stride, MatMulScratch& scratch) {
  const MatMulOut one{w, out, out_stride};
  MatMulGroup(pool, std::span<const MatMulOut>(&one, 1), x, x_stride, n_tokens, scratch);
}

void MatMulGroup(ThreadPool& pool, std::span<const MatMulOut> group, const float* x,
                 int64_t x_stride, int64_t n_tokens, MatMulScratch& scratch) {
  if (n_tokens <= 0 || group.empty()) return;
  const internal::OpsTable& ops = internal::ActiveOps();
  for (const MatMulOut& m : group) {
    SURGE_CHECK(m.w.cols == group[0].w.cols);
    SURGE_CHECK(m.w.cols % Traits(m.w.type).block_size == 0);
  }
  if (ops.matmul_kernel == nullptr) {
    for (const MatMulOut& m : group) {
      if (m.w.rows > 0) {
        ops.reference_matmul(pool, m.w, x, x_stride, n_tokens, m.out, m.out_stride, scratch);
      }
    }
    return;
  }
  // Runs of equal type go together (models mix types, e.g. Q4_K_M files).
  MatMulOut same[8];
  for (size_t i = 0; i < group.size();) {
    size_t n = 0;
    const DType type = group[i].w.type;
    for (; i < group.size() && group[i].w.type == type && n < std::size(same); ++i) {
      if (group[i].w.rows > 0) same[n++] = group[i];
    }
    if (n > 0) {
      internal::MatMulTiled(*ops.matmul_kernel(type), pool, std::span<const MatMulOut>(same, n), x,
                            x_stride, n_tokens, scratch);
    }
  }
}

void MatMulSwiGlu(ThreadPool& pool, const Matrix& gate, const Matrix& up, const float* x,
                  int64_t x_stride, int64_t n_tokens, float* out, int64_t out_stride,
                  MatMulScratch& scratch) {
  SURGE_CHECK(gate.rows == up.rows && gate.cols == up.cols);
  if (n_tokens <= 0 || gate.rows == 0) return;
  const internal::OpsTable& ops = internal::ActiveOps();
  // Fusing pays while a unit's products stay in the thread's cache; a long
  // prefill chunk's do not, and there the separate passes are faster.
  constexpr int64_t kFuseMaxTokens = 64;
  if (ops.matmul_kernel != nullptr && gate.type == up.type && n_tokens <= kFuseMaxTokens) {
    SURGE_CHECK(gate.cols % Traits(gate.type).block_size == 0);
    internal::MatMulTiledSwiGlu(*ops.matmul_kernel(gate.type), pool, gate, up, x, x_stride,
                                n_tokens, out, out_stride, ops.silu_mul, scratch);
    return;
  }
  // The two products, then the activation (same arithmetic).
  const int64_t rows = gate.rows;
  if (static_cast<int64_t>(scratch.floats.size()) < n_tokens * rows) {
    scratch.floats.resize(static_cast<size_t>(n_tokens * rows));
  }
  float* const up_out = scratch.floats.data();
  const MatMulOut products[] = {{gate, out, out_stride}, {up, up_out, rows}};
  MatMulGroup(pool, products, x, x_stride, n_tokens, scratch);
  pool.ParallelFor(n_tokens, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      ops.silu_mul(out + t * out_stride, up_out + t * rows, rows, out + t * out_stride);
    }
  });
}

void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  internal::ActiveOps().rms_norm(x, weight, n, eps, out);
}

void Rope(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style) {
  internal::ActiveOps().rope(x, n_heads, head_dim, pos, freq_base, style);
}

void RopeAngles(int head_dim, int64_t pos, float freq_base, float* cos_sin) {
  internal::RopeAngles(head_dim, pos, freq_base, cos_sin);
}

void Rope(float* x, int n_heads, int head_dim, const float* cos_sin, RopeStyle style) {
  internal::RopeRotate(x, n_heads, head_dim, cos_sin, style);
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  internal::ActiveOps().silu_mul(gate, up, n, out);
}

void Add(float* y, const float* x, int64_t n) { internal::ActiveOps().add(y, x, n); }

void ToHalf(const float* x, int64_t n, uint16_t* out) { internal::ActiveOps().to_half(x, n, out); }

void AttendPaged(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                 float* scores, float* out) {
  internal::ActiveOps().attend(q, kv, kv_head, n_ctx, scale, scores, out);
}

void AttendPagedGroup(std::span<const AttendQuery> queries, const PagedKv& kv, int kv_head,
                      float scale, float* scratch) {
  const internal::OpsTable& ops = internal::ActiveOps();
  if (ops.attend_group == nullptr || queries.size() == 1) {  // nothing to share
    for (const AttendQuery& a : queries)
      ops.attend(a.q, kv, kv_head, a.n_ctx, scale, a.scores, a.out);
    return;
  }
  for (size_t i = 0; i < queries.size(); i += kMaxAttendGroup) {
    ops.attend_group(queries.subspan(i, std::min<size_t>(queries.size() - i, kMaxAttendGroup)), kv,
                     kv_head, scale, scratch);
  }
}

}  // namespace surge::engine::kernels
