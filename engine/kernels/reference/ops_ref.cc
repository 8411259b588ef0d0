// Scalar reference of the element-wise kernels and of paged attention.
#include "engine/kernels/reference/ops_ref.h"

#include <cmath>
#include <cstring>

#include "engine/kernels/quantize.h"

namespace surge::engine::kernels::reference {
namespace {

float LoadHalf(const uint16_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof(h));
  return HalfToFloat(h);
}

// Pointer to the head_dim fp16 values of position p, KV head h.
const uint16_t* KvRow(const uint16_t* base, const PagedKv& kv, int kv_head, int64_t p) {
  const int64_t block = kv.block_table[p / kv.block_size];
  const int64_t slot = p % kv.block_size;
  return base + ((block * kv.n_kv_heads + kv_head) * kv.block_size + slot) * kv.head_dim;
}

}  // namespace

void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void Rope(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const double theta =
          static_cast<double>(pos) * std::pow(static_cast<double>(freq_base), -2.0 * i / head_dim);
      const float c = static_cast<float>(std::cos(theta));
      const float s = static_cast<float>(std::sin(theta));
      const int a = style == RopeStyle::kNormal ? 2 * i : i;
      const int b = style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
      const float x0 = v[a];
      const float x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void Add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void ToHalf(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToHalf(x[i]);
}

void AttendPaged(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                 float* scores, float* out) {
  const int d = kv.head_dim;
  float max_score = -INFINITY;
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* k = KvRow(kv.k, kv, kv_head, p);
    float dot = 0.0f;
    for (int i = 0; i < d; ++i) dot += q[i] * LoadHalf(k + i);
    scores[p] = dot * scale;
    max_score = std::fmax(max_score, scores[p]);
  }
  float sum = 0.0f;
  for (int64_t p = 0; p < n_ctx; ++p) {
    scores[p] = std::exp(scores[p] - max_score);
    sum += scores[p];
  }
  for (int i = 0; i < d; ++i) out[i] = 0.0f;
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* v = KvRow(kv.v, kv, kv_head, p);
    for (int i = 0; i < d; ++i) out[i] += scores[p] * LoadHalf(v + i);
  }
  const float inv = n_ctx > 0 ? 1.0f / sum : 0.0f;
  for (int i = 0; i < d; ++i) out[i] *= inv;
}

}  // namespace surge::engine::kernels::reference
