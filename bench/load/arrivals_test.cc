// Poisson arrivals: the mean gap, a Kolmogorov-Smirnov test of the gaps
// against the exponential distribution, the dispersion of counts per window,
// and reproducibility by seed. Fixed seeds, so the outcome is deterministic.
#include "bench/load/arrivals.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace surge::bench {
namespace {

constexpr double kRate = 8.0;
constexpr int kN = 5000;
// Critical value of the one-sample KS statistic at alpha = 0.01 for large n.
const double kKsCritical = 1.628 / std::sqrt(static_cast<double>(kN));

std::vector<double> Gaps(const std::vector<double>& times) {
  std::vector<double> gaps;
  double last = 0;
  for (double t : times) {
    gaps.push_back(t - last);
    last = t;
  }
  return gaps;
}

std::vector<double> ArrivalTimes(double rate, uint64_t seed, int n) {
  PoissonArrivals arrivals(rate, seed);
  std::vector<double> times;
  for (int i = 0; i < n; ++i) times.push_back(arrivals.Next());
  return times;
}

// sup |F_n(x) - F(x)| against the exponential CDF with the given rate.
double KsStatistic(std::vector<double> samples, double rate) {
  std::sort(samples.begin(), samples.end());
  const double n = static_cast<double>(samples.size());
  double d = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const double cdf = 1 - std::exp(-rate * samples[i]);
    d = std::max({d, (static_cast<double>(i) + 1) / n - cdf, cdf - static_cast<double>(i) / n});
  }
  return d;
}

TEST(PoissonArrivalsTest, TimesIncreaseAndMeanGapIsOneOverRate) {
  const std::vector<double> times = ArrivalTimes(kRate, 42, kN);
  ASSERT_TRUE(std::is_sorted(times.begin(), times.end()));
  EXPECT_GT(times.front(), 0);
  const std::vector<double> gaps = Gaps(times);
  const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / kN;
  // Standard error of the mean is (1/rate)/sqrt(n) = 0.00177; allow 4 of them.
  EXPECT_NEAR(mean, 1 / kRate, 4 * (1 / kRate) / std::sqrt(kN));
}

TEST(PoissonArrivalsTest, GapsPassKolmogorovSmirnovAgainstExponential) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    const double d = KsStatistic(Gaps(ArrivalTimes(kRate, seed, kN)), kRate);
    EXPECT_LT(d, kKsCritical) << "seed " << seed;
  }
  // The test has teeth: gaps from the wrong rate, or evenly spaced arrivals at
  // the right rate, are rejected.
  EXPECT_GT(KsStatistic(Gaps(ArrivalTimes(kRate * 1.2, 1, kN)), kRate), kKsCritical);
  const std::vector<double> even(kN, 1 / kRate);
  EXPECT_GT(KsStatistic(even, kRate), kKsCritical);
}

TEST(PoissonArrivalsTest, CountsPerSecondHaveVarianceEqualToMean) {
  // Over 1000 one-second windows the counts are Poisson(rate): index of
  // dispersion (variance / mean) near 1; its standard error is about 0.045.
  PoissonArrivals arrivals(kRate, 7);
  std::vector<int> counts(1000, 0);
  for (double t = arrivals.Next(); t < 1000; t = arrivals.Next()) {
    ++counts[static_cast<size_t>(t)];
  }
  const double mean = std::accumulate(counts.begin(), counts.end(), 0.0) / counts.size();
  double var = 0;
  for (int c : counts) var += (c - mean) * (c - mean);
  var /= counts.size() - 1;
  EXPECT_NEAR(mean, kRate, 0.4);
  EXPECT_NEAR(var / mean, 1.0, 0.2);
}

TEST(PoissonArrivalsTest, SameSeedSameArrivals) {
  EXPECT_EQ(ArrivalTimes(3.0, 9, 100), ArrivalTimes(3.0, 9, 100));
  EXPECT_NE(ArrivalTimes(3.0, 9, 100), ArrivalTimes(3.0, 10, 100));
}

TEST(RngTest, UniformIntCoversTheClosedRange) {
  Rng rng(5);
  std::vector<int> seen(5, 0);
  for (int i = 0; i < 5000; ++i) {
    const int64_t v = rng.UniformInt(10, 14);
    ASSERT_GE(v, 10);
    ASSERT_LE(v, 14);
    ++seen[static_cast<size_t>(v - 10)];
  }
  for (int count : seen) EXPECT_NEAR(count, 1000, 150);
  EXPECT_EQ(Rng(3).UniformInt(7, 7), 7);
}

}  // namespace
}  // namespace surge::bench
