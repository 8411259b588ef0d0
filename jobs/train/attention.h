// Causal multi-head self-attention (with grouped KV heads), forward and
// backward, for `batch` sequences of `seq_len` tokens laid out as rows
// b * seq_len + t. Query head h reads KV head h / (n_heads / n_kv_heads).
//
// Forward: for each (sequence, head), S = Q K^T / sqrt(head_dim), masked
// above the diagonal, P = softmax(S) row by row (saved in `probs`), out =
// P V. All four products go through Gemm, so they share its fixed reduction
// order; the work is split over (sequence, KV head) pairs, and the heads of
// one group run in order inside one task, so dK and dV sum their heads in a
// fixed order too: results do not depend on the thread count.
//
// Thread safety: reentrant; buffers must not alias.
#pragma once

#include <cstdint>

#include "engine/kernels/thread_pool.h"

namespace surge::jobs::train {

struct AttentionShape {
  int64_t batch = 1;
  int64_t seq_len = 1;
  int n_heads = 1;
  int n_kv_heads = 1;
  int head_dim = 1;

  int64_t q_dim() const { return int64_t{n_heads} * head_dim; }
  int64_t kv_dim() const { return int64_t{n_kv_heads} * head_dim; }
  int64_t probs_size() const { return batch * n_heads * seq_len * seq_len; }
};

// q: [rows, q_dim], k and v: [rows, kv_dim] (rope already applied) →
// out: [rows, q_dim]; probs: [batch, n_heads, seq_len, seq_len].
void AttentionForward(const AttentionShape& shape, const float* q, const float* k, const float* v,
                      float* probs, float* out, engine::kernels::ThreadPool* pool);

// Gradients of q, k, v (overwritten) from the gradient of out.
void AttentionBackward(const AttentionShape& shape, const float* dout, const float* q,
                       const float* k, const float* v, const float* probs, float* dq, float* dk,
                       float* dv, engine::kernels::ThreadPool* pool);

}  // namespace surge::jobs::train
