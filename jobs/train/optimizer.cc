#include "jobs/train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "jobs/train/ops.h"

namespace surge::jobs::train {
namespace {

constexpr int64_t kChunk = 1 << 14;  // floats per partial sum of the norm

}  // namespace

float LrSchedule::At(int64_t step) const {
  if (warmup_steps > 0 && step <= warmup_steps) {
    return max_lr * static_cast<float>(step) / static_cast<float>(warmup_steps);
  }
  const int64_t decay_steps = total_steps - warmup_steps;
  if (decay_steps <= 0 || step >= total_steps) return min_lr;
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return static_cast<float>(min_lr + (max_lr - min_lr) * cosine);
}

float ClipGradNorm(ParamStore& params, float max_norm, engine::kernels::ThreadPool* pool) {
  std::span<float> g = params.grads();
  const auto n = static_cast<int64_t>(g.size());
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
  ForRange(pool, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double s = 0;
      const int64_t stop = std::min(n, (c + 1) * kChunk);
      for (int64_t i = c * kChunk; i < stop; ++i) s += static_cast<double>(g[i]) * g[i];
      partial[c] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  const auto norm = static_cast<float>(std::sqrt(total));
  if (max_norm > 0.0f && norm > max_norm) {
    const float scale = max_norm / norm;
    ForRange(pool, n, kChunk, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) g[i] *= scale;
    });
  }
  return norm;
}

void AdamWStep(ParamStore& params, const AdamWConfig& c, float lr, int64_t step,
               engine::kernels::ThreadPool* pool) {
  const float bc1 = 1.0f - std::pow(c.beta1, static_cast<float>(step));
  const float bc2 = 1.0f - std::pow(c.beta2, static_cast<float>(step));
  for (int id = 0; id < static_cast<int>(params.infos().size()); ++id) {
    const ParamInfo& info = params.info(id);
    float *w = params.value(id), *m = params.moment1(id), *v = params.moment2(id);
    const float* g = params.grad(id);
    const float decay = info.decay ? c.weight_decay : 0.0f;
    ForRange(pool, info.size(), kChunk, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g[i];
        v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g[i] * g[i];
        const float mhat = m[i] / bc1, vhat = v[i] / bc2;
        w[i] -= lr * (mhat / (std::sqrt(vhat) + c.eps) + decay * w[i]);
      }
    });
  }
}

}  // namespace surge::jobs::train
