#include "jobs/train/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "jobs/train/gemm.h"

namespace surge::jobs::train {
namespace {

// Rows per task for row-wise kernels, and columns per task for the kernels
// that reduce over rows (weight gradients).
constexpr int64_t kRowGrain = 16;
constexpr int64_t kColGrain = 64;
constexpr int64_t kElemGrain = 16384;

}  // namespace

void EmbeddingForward(const int32_t* tokens, int64_t n, const float* table, int64_t dim, float* out,
                      ThreadPool* pool) {
  ForRange(pool, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::memcpy(out + i * dim, table + static_cast<int64_t>(tokens[i]) * dim, dim * 4);
    }
  });
}

void EmbeddingBackward(const int32_t* tokens, int64_t n, const float* dout, int64_t dim,
                       float* dtable, ThreadPool* pool) {
  // Split over columns so each table element is summed by one thread, in
  // token order.
  ForRange(pool, dim, kColGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < n; ++i) {
      float* row = dtable + static_cast<int64_t>(tokens[i]) * dim;
      const float* d = dout + i * dim;
      for (int64_t c = c0; c < c1; ++c) row[c] += d[c];
    }
  });
}

void RmsNormForward(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out,
                    float* rstd, ThreadPool* pool) {
  ForRange(pool, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* xi = x + i * dim;
      double ss = 0;
      for (int64_t j = 0; j < dim; ++j) ss += static_cast<double>(xi[j]) * xi[j];
      const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim) + eps));
      float* oi = out + i * dim;
      for (int64_t j = 0; j < dim; ++j) oi[j] = xi[j] * r * w[j];
      rstd[i] = r;
    }
  });
}

void RmsNormBackward(const float* dout, const float* x, const float* w, const float* rstd,
                     int64_t n, int64_t dim, float* dx, float* dw, ThreadPool* pool) {
  // dx_j = r * (w_j dy_j - x_j * r^2 * mean_k(dy_k w_k x_k)).
  ForRange(pool, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float *xi = x + i * dim, *di = dout + i * dim;
      const float r = rstd[i];
      double dot = 0;
      for (int64_t j = 0; j < dim; ++j) dot += static_cast<double>(di[j]) * w[j] * xi[j];
      const float coef = static_cast<float>(dot / static_cast<double>(dim)) * r * r;
      float* dxi = dx + i * dim;
      for (int64_t j = 0; j < dim; ++j) dxi[j] = r * (w[j] * di[j] - xi[j] * coef);
    }
  });
  // dw_j += sum_i dy_ij * x_ij * r_i, rows in order.
  ForRange(pool, dim, kColGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < n; ++i) {
      const float *xi = x + i * dim, *di = dout + i * dim;
      const float r = rstd[i];
      for (int64_t j = c0; j < c1; ++j) dw[j] += di[j] * (xi[j] * r);
    }
  });
}

void LinearForward(const float* x, const float* w, int64_t n, int64_t in_dim, int64_t out_dim,
                   float* out, std::vector<float>& scratch, ThreadPool* pool) {
  scratch.resize(static_cast<size_t>(in_dim * out_dim));
  Transpose(w, out_dim, in_dim, scratch.data());
  Gemm(n, out_dim, in_dim, StridedMatrix::RowMajor(x, in_dim), scratch.data(), out_dim, out,
       out_dim, /*accumulate=*/false, pool);
}

void LinearBackward(const float* dout, const float* x, const float* w, int64_t n, int64_t in_dim,
                    int64_t out_dim, float* dx, bool accumulate_dx, float* dw, ThreadPool* pool) {
  Gemm(n, in_dim, out_dim, StridedMatrix::RowMajor(dout, out_dim), w, in_dim, dx, in_dim,
       accumulate_dx, pool);
  Gemm(out_dim, in_dim, n, StridedMatrix::Transposed(dout, out_dim), x, in_dim, dw, in_dim,
       /*accumulate=*/true, pool);
}

RopeTable::RopeTable(int64_t max_pos, int head_dim, float base)
    : max_pos_(max_pos), head_dim_(head_dim) {
  const int half = head_dim / 2;
  cos_.resize(static_cast<size_t>(max_pos * half));
  sin_.resize(cos_.size());
  for (int64_t p = 0; p < max_pos; ++p) {
    for (int i = 0; i < half; ++i) {
      const double theta =
          static_cast<double>(p) * std::pow(static_cast<double>(base), -2.0 * i / head_dim);
      cos_[p * half + i] = static_cast<float>(std::cos(theta));
      sin_[p * half + i] = static_cast<float>(std::sin(theta));
    }
  }
}

namespace {

// Rotates each (2i, 2i+1) pair by +angle (sign 1) or -angle (sign -1).
void Rotate(float* x, int64_t n, int64_t seq_len, int n_heads, const RopeTable& rope, float sign,
            ThreadPool* pool) {
  const int hd = rope.head_dim(), half = hd / 2;
  ForRange(pool, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t pos = row % seq_len;
      const float *c = rope.cos(pos), *s = rope.sin(pos);
      for (int h = 0; h < n_heads; ++h) {
        float* v = x + (row * n_heads + h) * hd;
        for (int i = 0; i < half; ++i) {
          const float x0 = v[2 * i], x1 = v[2 * i + 1], si = sign * s[i];
          v[2 * i] = x0 * c[i] - x1 * si;
          v[2 * i + 1] = x0 * si + x1 * c[i];
        }
      }
    }
  });
}

}  // namespace

void RopeForward(float* x, int64_t n, int64_t seq_len, int n_heads, const RopeTable& rope,
                 ThreadPool* pool) {
  Rotate(x, n, seq_len, n_heads, rope, 1.0f, pool);
}

void RopeBackward(float* dx, int64_t n, int64_t seq_len, int n_heads, const RopeTable& rope,
                  ThreadPool* pool) {
  Rotate(dx, n, seq_len, n_heads, rope, -1.0f, pool);
}

void SwigluForward(const float* g, const float* u, int64_t count, float* h, ThreadPool* pool) {
  ForRange(pool, count, kElemGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) h[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

void SwigluBackward(const float* dh, const float* g, const float* u, int64_t count, float* dg,
                    float* du, ThreadPool* pool) {
  ForRange(pool, count, kElemGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float s = 1.0f / (1.0f + std::exp(-g[i]));
      const float silu = g[i] * s;
      du[i] = dh[i] * silu;
      dg[i] = dh[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
  });
}

void AddForward(const float* a, const float* b, int64_t count, float* out, ThreadPool* pool) {
  ForRange(pool, count, kElemGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = a[i] + b[i];
  });
}

void AddInto(float* dst, const float* src, int64_t count, ThreadPool* pool) {
  ForRange(pool, count, kElemGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] += src[i];
  });
}

void CrossEntropyForward(const float* logits, const int32_t* targets, int64_t n, int64_t vocab,
                         float* losses, ThreadPool* pool) {
  ForRange(pool, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* l = logits + i * vocab;
      const float mx = *std::max_element(l, l + vocab);
      double sum = 0;
      for (int64_t j = 0; j < vocab; ++j) sum += std::exp(l[j] - mx);
      losses[i] = static_cast<float>(mx + std::log(sum) - l[targets[i]]);
    }
  });
}

void CrossEntropyWithGrad(float* logits, const int32_t* targets, int64_t n, int64_t vocab,
                          float scale, float* losses, ThreadPool* pool) {
  ForRange(pool, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* l = logits + i * vocab;
      const float mx = *std::max_element(l, l + vocab);
      const float target_logit = l[targets[i]];
      double sum = 0;
      for (int64_t j = 0; j < vocab; ++j) sum += (l[j] = std::exp(l[j] - mx));
      losses[i] = static_cast<float>(mx + std::log(sum) - target_logit);
      const float k = static_cast<float>(scale / sum);
      for (int64_t j = 0; j < vocab; ++j) l[j] *= k;
      l[targets[i]] -= scale;
    }
  });
}

}  // namespace surge::jobs::train
