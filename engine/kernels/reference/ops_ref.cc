// Scalar reference of the element-wise kernels and of paged attention.
#include "engine/kernels/reference/ops_ref.h"

#include <cmath>
#include <cstring>

#include "engine/kernels/quantize.h"

namespace surge::engine::kernels::reference {
namespace {

// Pointer to the K or V row of position p, KV head h.
const uint8_t* KvRow(const void* base, const PagedKv& kv, int kv_head, int64_t p) {
  const int64_t block = kv.block_table[p / kv.block_size];
  const int64_t slot = p % kv.block_size;
  return static_cast<const uint8_t*>(base) +
         ((block * kv.n_kv_heads + kv_head) * kv.block_size + slot) *
             RowBytes(kv.type, kv.head_dim);
}

// Element i of a K/V row: the fp16 value, or a Q8_0 block's d * q.
float KvValue(const uint8_t* row, int i, DType type) {
  uint16_t h;
  if (type == DType::kF16) {
    std::memcpy(&h, row + 2 * i, sizeof(h));
    return HalfToFloat(h);
  }
  const uint8_t* block = row + i / kQK * static_cast<int64_t>(sizeof(BlockQ8_0));
  std::memcpy(&h, block, sizeof(h));
  return HalfToFloat(h) * static_cast<float>(static_cast<int8_t>(block[2 + i % kQK]));
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
    const uint8_t* k = KvRow(kv.k, kv, kv_head, p);
    float dot = 0.0f;
    for (int i = 0; i < d; ++i) dot += q[i] * KvValue(k, i, kv.type);
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
    const uint8_t* v = KvRow(kv.v, kv, kv_head, p);
    for (int i = 0; i < d; ++i) out[i] += scores[p] * KvValue(v, i, kv.type);
  }
  const float inv = n_ctx > 0 ? 1.0f / sum : 0.0f;
  for (int i = 0; i < d; ++i) out[i] *= inv;
}

}  // namespace surge::engine::kernels::reference
