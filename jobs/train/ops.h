// The layers of a llama block as pairs of plain-loop kernels: a forward that
// saves what its backward needs, and a backward that turns the gradient of
// the output into gradients of the inputs and weights. Matrices are
// row-major with one row per token; `n` is the number of token rows.
//
// Conventions: backward functions *add* into weight gradients (dw, dtable)
// so that a tied weight can collect from two places; whether they add into
// or overwrite the input gradient is said per function. Work is split over
// rows (or, for weight gradients, over columns) and every output element is
// reduced by one thread in a fixed order, so results do not depend on the
// thread count. `pool` may be null.
//
// Thread safety: reentrant; outputs must not alias inputs unless stated.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kernels/thread_pool.h"

namespace surge::jobs::train {

using engine::kernels::ThreadPool;

// out[i] = table[tokens[i]] (rows of `dim`). Tokens must be in range.
void EmbeddingForward(const int32_t* tokens, int64_t n, const float* table, int64_t dim, float* out,
                      ThreadPool* pool);
// dtable[tokens[i]] += dout[i], rows in order of i.
void EmbeddingBackward(const int32_t* tokens, int64_t n, const float* dout, int64_t dim,
                       float* dtable, ThreadPool* pool);

// out = x / sqrt(mean(x^2) + eps) * w per row; rstd[i] = that row's 1/sqrt(...).
void RmsNormForward(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out,
                    float* rstd, ThreadPool* pool);
// dx is overwritten; dw is added to.
void RmsNormBackward(const float* dout, const float* x, const float* w, const float* rstd,
                     int64_t n, int64_t dim, float* dx, float* dw, ThreadPool* pool);

// out[n, out_dim] = x[n, in_dim] · W^T, W being [out_dim, in_dim] as GGUF
// stores it. `scratch` holds W^T between calls (resized as needed).
void LinearForward(const float* x, const float* w, int64_t n, int64_t in_dim, int64_t out_dim,
                   float* out, std::vector<float>& scratch, ThreadPool* pool);
// dx = (accumulate_dx ? dx : 0) + dout · W;  dw += dout^T · x.
void LinearBackward(const float* dout, const float* x, const float* w, int64_t n, int64_t in_dim,
                    int64_t out_dim, float* dx, bool accumulate_dx, float* dw, ThreadPool* pool);

// Rotary position embedding, llama's layout: within each head, the pairs
// (2i, 2i+1) rotate by pos * base^(-2i / head_dim).
class RopeTable {
 public:
  RopeTable(int64_t max_pos, int head_dim, float base);
  int head_dim() const { return head_dim_; }
  int64_t max_pos() const { return max_pos_; }
  const float* cos(int64_t pos) const { return &cos_[pos * (head_dim_ / 2)]; }
  const float* sin(int64_t pos) const { return &sin_[pos * (head_dim_ / 2)]; }

 private:
  int64_t max_pos_;
  int head_dim_;
  std::vector<float> cos_, sin_;
};
// Rotates `n` rows of `n_heads` heads in place; row i is at position i % seq_len.
void RopeForward(float* x, int64_t n, int64_t seq_len, int n_heads, const RopeTable& rope,
                 ThreadPool* pool);
// The inverse rotation, applied in place to a gradient.
void RopeBackward(float* dx, int64_t n, int64_t seq_len, int n_heads, const RopeTable& rope,
                  ThreadPool* pool);

// h = silu(g) * u elementwise over `count` floats.
void SwigluForward(const float* g, const float* u, int64_t count, float* h, ThreadPool* pool);
// dg, du overwritten.
void SwigluBackward(const float* dh, const float* g, const float* u, int64_t count, float* dg,
                    float* du, ThreadPool* pool);

// Residual connection: out = a + b (out may alias a). Its backward passes the
// gradient to both inputs unchanged: AddInto(da, dout), AddInto(db, dout).
void AddForward(const float* a, const float* b, int64_t count, float* out, ThreadPool* pool);
void AddInto(float* dst, const float* src, int64_t count, ThreadPool* pool);

// Softmax cross-entropy per row: losses[i] = logsumexp(logits[i]) -
// logits[i][targets[i]]. Targets must be in range.
void CrossEntropyForward(const float* logits, const int32_t* targets, int64_t n, int64_t vocab,
                         float* losses, ThreadPool* pool);
// The same losses, and, in the same pass, the logits replaced in place by
// d(scale * sum of losses)/d(logits) = scale * (softmax - one_hot(target)):
// the forward and backward of the loss fused, one exp per logit.
void CrossEntropyWithGrad(float* logits, const int32_t* targets, int64_t n, int64_t vocab,
                          float scale, float* losses, ThreadPool* pool);

// Runs fn(begin, end) over [0, n) in chunks of `grain` across the pool (or
// inline when `pool` is null or the work is small).
template <typename Fn>
void ForRange(ThreadPool* pool, int64_t n, int64_t grain, Fn&& fn) {
  if (pool == nullptr || n <= grain) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  pool->ParallelFor(n, grain, fn);
}

}  // namespace surge::jobs::train
