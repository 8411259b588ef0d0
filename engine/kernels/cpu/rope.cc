#include "engine/kernels/cpu/rope.h"

#include <cmath>

#include "base/check.h"

namespace surge::engine::kernels::internal {

void RopeAngles(int head_dim, int64_t pos, float freq_base, float* cos_sin) {
  constexpr int kMaxHalf = kRopeMaxHeadDim / 2;
  const int half = head_dim / 2;
  SURGE_CHECK(head_dim <= kRopeMaxHeadDim);
  // The frequencies depend only on (head_dim, freq_base): keep the last set
  // per thread (the same values the reference computes each time).
  struct Freqs {
    int head_dim = 0;
    float freq_base = 0.0f;
    double inv[kMaxHalf];
  };
  thread_local Freqs freqs;
  if (freqs.head_dim != head_dim || freqs.freq_base != freq_base) {
    for (int i = 0; i < half; ++i) {
      freqs.inv[i] = std::pow(static_cast<double>(freq_base), -2.0 * i / head_dim);
    }
    freqs.head_dim = head_dim;
    freqs.freq_base = freq_base;
  }
  for (int i = 0; i < half; ++i) {
    const double theta = static_cast<double>(pos) * freqs.inv[i];
    cos_sin[i] = static_cast<float>(std::cos(theta));
    cos_sin[half + i] = static_cast<float>(std::sin(theta));
  }
}

void RopeRotate(float* x, int n_heads, int head_dim, const float* cos_sin, RopeStyle style) {
  const int half = head_dim / 2;
  const float* cos_t = cos_sin;
  const float* sin_t = cos_sin + half;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    if (style == RopeStyle::kNormal) {
      for (int i = 0; i < half; ++i) {
        const float x0 = v[2 * i];
        const float x1 = v[2 * i + 1];
        v[2 * i] = x0 * cos_t[i] - x1 * sin_t[i];
        v[2 * i + 1] = x0 * sin_t[i] + x1 * cos_t[i];
      }
    } else {
      for (int i = 0; i < half; ++i) {
        const float x0 = v[i];
        const float x1 = v[i + half];
        v[i] = x0 * cos_t[i] - x1 * sin_t[i];
        v[i + half] = x0 * sin_t[i] + x1 * cos_t[i];
      }
    }
  }
}

void RopeTable(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style) {
  float cos_sin[kRopeMaxHeadDim];
  RopeAngles(head_dim, pos, freq_base, cos_sin);
  RopeRotate(x, n_heads, head_dim, cos_sin, style);
}

}  // namespace surge::engine::kernels::internal
