#include "jobs/train/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "jobs/train/gemm.h"

namespace surge::jobs::train {
namespace {

// Pointers to one (sequence, head) slice and its row strides.
struct HeadView {
  int64_t t;              // seq_len
  int64_t hd;             // head_dim
  int64_t q_ld, kv_ld;    // floats per row of q/out and of k/v
  int64_t q_off, kv_off;  // offset of the slice's first element
  int64_t probs_off;      // offset of its T x T block in probs
};

HeadView View(const AttentionShape& s, int64_t b, int h) {
  const int group = s.n_heads / s.n_kv_heads;
  const int g = h / group;
  return {s.seq_len,
          s.head_dim,
          s.q_dim(),
          s.kv_dim(),
          b * s.seq_len * s.q_dim() + int64_t{h} * s.head_dim,
          b * s.seq_len * s.kv_dim() + int64_t{g} * s.head_dim,
          (b * s.n_heads + h) * s.seq_len * s.seq_len};
}

// Row blocks of the causal products: rows [m0, m0 + kBlock) of S only need
// columns below m0 + kBlock, so each block is its own smaller product.
// Skipped terms are exact zeros, and the blocks depend on seq_len alone.
constexpr int64_t kBlock = 48;

template <typename Fn>
void ForEachBlock(int64_t t, Fn&& fn) {
  for (int64_t m0 = 0; m0 < t; m0 += kBlock) fn(m0, std::min(t, m0 + kBlock));
}

// Softmax of each row of the scaled, causally masked scores, in place
// (entries above the diagonal are set to zero whatever they held).
void MaskedSoftmax(float* p, int64_t t, float scale) {
  for (int64_t i = 0; i < t; ++i) {
    float* row = p + i * t;
    float mx = -INFINITY;
    for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, row[j] * scale);
    double sum = 0;
    for (int64_t j = 0; j <= i; ++j) sum += (row[j] = std::exp(row[j] * scale - mx));
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
    for (int64_t j = i + 1; j < t; ++j) row[j] = 0.0f;
  }
}

// Runs fn(b, g, scratch) for every (sequence, KV head) pair across the pool.
template <typename Fn>
void ForEachGroup(const AttentionShape& s, engine::kernels::ThreadPool* pool, Fn&& fn) {
  const int64_t tasks = s.batch * s.n_kv_heads;
  auto run = [&](int64_t begin, int64_t end) {
    std::vector<float> scratch;
    for (int64_t task = begin; task < end; ++task) {
      fn(task / s.n_kv_heads, static_cast<int>(task % s.n_kv_heads), scratch);
    }
  };
  if (pool == nullptr || tasks == 1) {
    run(0, tasks);
  } else {
    pool->ParallelFor(tasks, 1, run);
  }
}

}  // namespace

void AttentionForward(const AttentionShape& s, const float* q, const float* k, const float* v,
                      float* probs, float* out, engine::kernels::ThreadPool* pool) {
  const int group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  ForEachGroup(s, pool, [&](int64_t b, int g, std::vector<float>& kt) {
    for (int h = g * group; h < (g + 1) * group; ++h) {
      const HeadView w = View(s, b, h);
      // K^T of this head: [hd, T], so that S = Q · K^T is a plain product.
      kt.resize(static_cast<size_t>(w.hd * w.t));
      for (int64_t j = 0; j < w.t; ++j) {
        for (int64_t d = 0; d < w.hd; ++d) kt[d * w.t + j] = k[w.kv_off + j * w.kv_ld + d];
      }
      float* p = probs + w.probs_off;
      ForEachBlock(w.t, [&](int64_t m0, int64_t m1) {  // S = Q · K^T
        Gemm(m1 - m0, m1, w.hd, StridedMatrix::RowMajor(q + w.q_off + m0 * w.q_ld, w.q_ld),
             kt.data(), w.t, p + m0 * w.t, w.t, false, nullptr);
      });
      MaskedSoftmax(p, w.t, scale);
      ForEachBlock(w.t, [&](int64_t m0, int64_t m1) {  // out = P · V
        Gemm(m1 - m0, w.hd, m1, StridedMatrix::RowMajor(p + m0 * w.t, w.t), v + w.kv_off, w.kv_ld,
             out + w.q_off + m0 * w.q_ld, w.q_ld, false, nullptr);
      });
    }
  });
}

void AttentionBackward(const AttentionShape& s, const float* dout, const float* q, const float* k,
                       const float* v, const float* probs, float* dq, float* dk, float* dv,
                       engine::kernels::ThreadPool* pool) {
  const int group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  ForEachGroup(s, pool, [&](int64_t b, int g, std::vector<float>& scratch) {
    for (int h = g * group; h < (g + 1) * group; ++h) {
      const HeadView w = View(s, b, h);
      const bool first = h == g * group;  // the group's first head overwrites dK, dV
      scratch.resize(static_cast<size_t>(w.hd * w.t + w.t * w.t));
      float* vt = scratch.data();   // V^T: [hd, T]
      float* ds = vt + w.hd * w.t;  // dP, then dS: [T, T]
      for (int64_t j = 0; j < w.t; ++j) {
        for (int64_t d = 0; d < w.hd; ++d) vt[d * w.t + j] = v[w.kv_off + j * w.kv_ld + d];
      }
      const float* p = probs + w.probs_off;
      const float* d_o = dout + w.q_off;
      ForEachBlock(w.t, [&](int64_t m0, int64_t m1) {
        // dP = dO · V^T (rows m0..m1, causal columns).
        Gemm(m1 - m0, m1, w.hd, StridedMatrix::RowMajor(d_o + m0 * w.q_ld, w.q_ld), vt, w.t,
             ds + m0 * w.t, w.t, false, nullptr);
        // dV (+)= P^T · dO: row s sums over t >= s.
        Gemm(m1 - m0, w.hd, w.t - m0, StridedMatrix::Transposed(p + m0 * w.t + m0, w.t),
             d_o + m0 * w.q_ld, w.q_ld, dv + w.kv_off + m0 * w.kv_ld, w.kv_ld, !first, nullptr);
      });
      // dS = P * (dP - rowsum(P * dP)) * scale; zero above the diagonal.
      for (int64_t i = 0; i < w.t; ++i) {
        const float* pi = p + i * w.t;
        float* di = ds + i * w.t;
        double dot = 0;
        for (int64_t j = 0; j <= i; ++j) dot += static_cast<double>(pi[j]) * di[j];
        const float fdot = static_cast<float>(dot);
        for (int64_t j = 0; j <= i; ++j) di[j] = pi[j] * (di[j] - fdot) * scale;
        for (int64_t j = i + 1; j < w.t; ++j) di[j] = 0.0f;
      }
      ForEachBlock(w.t, [&](int64_t m0, int64_t m1) {
        // dQ = dS · K: row i sums over j <= i.
        Gemm(m1 - m0, w.hd, m1, StridedMatrix::RowMajor(ds + m0 * w.t, w.t), k + w.kv_off, w.kv_ld,
             dq + w.q_off + m0 * w.q_ld, w.q_ld, false, nullptr);
        // dK (+)= dS^T · Q: row j sums over i >= j.
        Gemm(m1 - m0, w.hd, w.t - m0, StridedMatrix::Transposed(ds + m0 * w.t + m0, w.t),
             q + w.q_off + m0 * w.q_ld, w.q_ld, dk + w.kv_off + m0 * w.kv_ld, w.kv_ld, !first,
             nullptr);
      });
    }
  });
}

}  // namespace surge::jobs::train
