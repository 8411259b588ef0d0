// Finite-difference gradient checks for the trainer's tests.
//
// The loss is a scalar function of some float tensors (evaluated in fp32
// with a double final sum by the caller). For each tensor the check compares
// the analytic gradient with central differences in two ways:
//  - element-wise on up to `max_elements` elements (the largest-gradient
//    ones and a random sample), and
//  - along one random ±1 direction over the whole tensor, where the
//    derivative is large enough to stand well above float rounding.
// The perturbation actually applied (float(x + h) - float(x - h)) is the
// denominator, so float rounding of x ± h does not bias the estimate.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace surge::jobs::train {

struct GradCheckOptions {
  double h = 1e-2;     // perturbation
  double rtol = 2e-2;  // relative tolerance
  double atol = 1e-4;  // absolute tolerance, for gradients near zero
  int max_elements = 24;
  uint64_t seed = 1;
};

struct GradTensor {
  std::string name;
  std::vector<float>* values;      // perturbed in place, restored after
  const std::vector<float>* grad;  // analytic gradient, same size
};

inline void ExpectGradientsMatch(const std::vector<GradTensor>& tensors,
                                 const std::function<double()>& loss,
                                 const GradCheckOptions& o = {}) {
  std::mt19937_64 rng(o.seed);
  for (const GradTensor& t : tensors) {
    std::vector<float>& x = *t.values;
    const std::vector<float>& g = *t.grad;
    ASSERT_EQ(x.size(), g.size()) << t.name;
    // Element-wise: the largest |gradient| half, then random elements.
    std::vector<size_t> order(x.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return std::abs(g[a]) > std::abs(g[b]); });
    std::vector<size_t> picks(order.begin(),
                              order.begin() + std::min<size_t>(o.max_elements / 2, order.size()));
    for (int i = 0; i < o.max_elements / 2 && !x.empty(); ++i) picks.push_back(rng() % x.size());
    for (size_t i : picks) {
      const float saved = x[i];
      const float plus = static_cast<float>(saved + o.h), minus = static_cast<float>(saved - o.h);
      x[i] = plus;
      const double lp = loss();
      x[i] = minus;
      const double lm = loss();
      x[i] = saved;
      const double numeric = (lp - lm) / (static_cast<double>(plus) - minus);
      const double tol = o.atol + o.rtol * std::max(std::abs(numeric), std::abs(double{g[i]}));
      EXPECT_NEAR(g[i], numeric, tol) << t.name << "[" << i << "]";
    }
    // Directional: d = random ±1 over the whole tensor.
    std::vector<float> saved = x;
    std::vector<float> d(x.size());
    double analytic = 0, scale = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      d[i] = (rng() & 1) ? 1.0f : -1.0f;
      analytic += static_cast<double>(g[i]) * d[i];
      scale += std::abs(static_cast<double>(g[i]));
    }
    const double h = o.h / 4;
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(saved[i] + h * d[i]);
    const double lp = loss();
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(saved[i] - h * d[i]);
    const double lm = loss();
    x = saved;
    const double numeric = (lp - lm) / (2 * h);
    EXPECT_NEAR(analytic, numeric, o.atol + o.rtol * std::max(scale * 0.1, std::abs(numeric)))
        << t.name << " along a random direction (sum |g| = " << scale << ")";
  }
}

// Uniform values in [-scale, scale], reproducible.
inline std::vector<float> RandomVector(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// sum(out * weights) in double: turns a tensor output into a scalar loss
// whose gradient with respect to out is `weights`.
inline double Dot(const std::vector<float>& out, const std::vector<float>& weights) {
  double s = 0;
  for (size_t i = 0; i < out.size(); ++i) s += static_cast<double>(out[i]) * weights[i];
  return s;
}

}  // namespace surge::jobs::train
