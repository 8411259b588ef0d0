#include "engine/runner/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace surge::engine::runner {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Test inputs built from std::mt19937 bits only (its output is fixed by the
// standard; std distributions are not), so every machine sees the same rows.
std::vector<float> RandomLogits(size_t n, uint32_t seed, float spread = 8.0f) {
  std::mt19937 gen(seed);
  std::vector<float> logits(n);
  for (float& x : logits) x = (static_cast<float>(gen() >> 8) * 0x1.0p-24f - 0.5f) * spread;
  return logits;
}

std::vector<float> LogitsFromProbs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

// log-softmax in double: what `logprob` should be.
std::vector<double> LogSoftmax(const std::vector<float>& logits) {
  const double max = *std::max_element(logits.begin(), logits.end());
  double z = 0.0;
  for (float x : logits) z += std::exp(x - max);
  std::vector<double> out;
  for (float x : logits) out.push_back(x - max - std::log(z));
  return out;
}

// The sampling distribution, straight from the definition: full sort, double
// precision, filters in the documented order.
std::vector<double> ReferenceProbs(const std::vector<float>& logits, const SamplingParams& p) {
  const size_t n = logits.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < n) order.resize(static_cast<size_t>(p.top_k));
  const double max = logits[order[0]];
  std::vector<double> w(n, 0.0);
  double total = 0.0;
  for (size_t i : order) total += w[i] = std::exp((logits[i] - max) / p.temperature);
  if (p.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = 0;
    while (keep < order.size() && cum < p.top_p * total) cum += w[order[keep++]];
    for (size_t j = keep; j < order.size(); ++j) w[order[j]] = 0.0;
  }
  for (double& x : w) {
    if (x < p.min_p * 1.0) x = 0.0;  // the most likely token weighs exp(0) = 1
  }
  const double kept = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x /= kept;
  return w;
}

std::vector<int> Histogram(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    std::vector<float> row = logits;
    ++counts[static_cast<size_t>(sampler.Sample(row).token)];
  }
  return counts;
}

// Pearson chi-square of `counts` against `probs`, bins with fewer than 5
// expected draws pooled. A draw of a token with probability 0 is infinitely bad.
double ChiSquare(const std::vector<int>& counts, const std::vector<double>& probs, int draws,
                 int* dof) {
  double stat = 0.0, pooled_expected = 0.0, pooled_observed = 0.0;
  *dof = -1;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double expected = probs[i] * draws;
    if (expected == 0.0 && counts[i] > 0) return kInf;
    if (expected < 5.0) {
      pooled_expected += expected;
      pooled_observed += counts[i];
      continue;
    }
    stat += (counts[i] - expected) * (counts[i] - expected) / expected;
    ++*dof;
  }
  if (pooled_expected >= 5.0) {
    stat +=
        (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) / pooled_expected;
    ++*dof;
  }
  return stat;
}

std::set<int32_t> DrawnSet(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::set<int32_t> seen;
  const std::vector<int> counts = Histogram(sampler, logits, draws);
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) seen.insert(static_cast<int32_t>(i));
  }
  return seen;
}

// ---------------------------------------------------------------- validation

TEST(ValidateSamplingParamsTest, AcceptsDefaultsAndBoundaries) {
  const std::vector<std::function<void(SamplingParams&)>> ok = {
      [](SamplingParams&) {},
      [](SamplingParams& p) { p.temperature = 0.0f; },
      [](SamplingParams& p) { p.temperature = 2.0f; },
      [](SamplingParams& p) { p.top_p = 1e-6f; },
      [](SamplingParams& p) { p.min_p = 1.0f; },
      [](SamplingParams& p) { p.top_k = 1 << 30; },
      [](SamplingParams& p) { p.repetition_penalty = 0.5f; },
      [](SamplingParams& p) { p.frequency_penalty = -2.0f; },
      [](SamplingParams& p) { p.presence_penalty = 2.0f; },
      [](SamplingParams& p) { p.penalty_last_n = -1; },
      [](SamplingParams& p) { p.top_logprobs = 20; },
      [](SamplingParams& p) { p.seed = ~uint64_t{0}; },
  };
  for (size_t i = 0; i < ok.size(); ++i) {
    SamplingParams params;
    ok[i](params);
    EXPECT_TRUE(ValidateSamplingParams(params).ok()) << "case " << i;
  }
}

TEST(ValidateSamplingParamsTest, RejectsOutOfRangeNamingTheField) {
  struct Case {
    std::function<void(SamplingParams&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](SamplingParams& p) { p.temperature = -0.1f; }, "temperature"},
      {[](SamplingParams& p) { p.temperature = 2.5f; }, "temperature"},
      {[](SamplingParams& p) { p.temperature = kNaN; }, "temperature"},
      {[](SamplingParams& p) { p.temperature = kInf; }, "temperature"},
      {[](SamplingParams& p) { p.top_p = 0.0f; }, "top_p"},
      {[](SamplingParams& p) { p.top_p = 1.01f; }, "top_p"},
      {[](SamplingParams& p) { p.top_p = kNaN; }, "top_p"},
      {[](SamplingParams& p) { p.min_p = -0.1f; }, "min_p"},
      {[](SamplingParams& p) { p.min_p = 1.5f; }, "min_p"},
      {[](SamplingParams& p) { p.top_k = -1; }, "top_k"},
      {[](SamplingParams& p) { p.repetition_penalty = 0.0f; }, "repetition_penalty"},
      {[](SamplingParams& p) { p.repetition_penalty = kInf; }, "repetition_penalty"},
      {[](SamplingParams& p) { p.frequency_penalty = 2.1f; }, "frequency_penalty"},
      {[](SamplingParams& p) { p.frequency_penalty = -kInf; }, "frequency_penalty"},
      {[](SamplingParams& p) { p.presence_penalty = -2.1f; }, "presence_penalty"},
      {[](SamplingParams& p) { p.presence_penalty = kNaN; }, "presence_penalty"},
      {[](SamplingParams& p) { p.penalty_last_n = -2; }, "penalty_last_n"},
      {[](SamplingParams& p) { p.top_logprobs = 21; }, "top_logprobs"},
      {[](SamplingParams& p) { p.top_logprobs = -1; }, "top_logprobs"},
  };
  for (const Case& c : cases) {
    SamplingParams params;
    c.mutate(params);
    const absl::Status status = ValidateSamplingParams(params);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(status.message().find(c.field), std::string::npos) << status.message();
  }
}

// -------------------------------------------------------------------- greedy

TEST(SamplerTest, GreedyPicksArgmaxTiesToLowestIdAndSurvivesBadValues) {
  struct Case {
    std::vector<float> logits;
    int32_t want;
  };
  std::vector<float> across_chunks(600, -1.0f);  // equal maxima in different chunks
  across_chunks[300] = across_chunks[10] = 7.0f;
  std::vector<float> last(600, 0.0f);
  last[599] = 0.5f;
  const std::vector<Case> cases = {
      {{1, 3, 2}, 1},          {{5, 5, 1}, 0},
      {{-3, -1, -1, -2}, 1},   {{kNaN, 1, kNaN}, 1},
      {{kNaN, kNaN}, 0},  // nothing finite: uniform, lowest id
      {{1, kInf, 2, kInf}, 1}, {{-kInf, -kInf, -5}, 2},
      {{-kInf, -kInf}, 0},     {{0.5f}, 0},
      {across_chunks, 10},     {last, 599},
  };
  for (const Case& c : cases) {
    Sampler sampler({.temperature = 0.0f});
    std::vector<float> row = c.logits;
    const SampleResult r = sampler.Sample(row);
    EXPECT_EQ(r.token, c.want) << "first logit " << c.logits[0];
    EXPECT_FALSE(std::isnan(r.logprob));
    EXPECT_LE(r.logprob, 0.0f);
  }
}

TEST(SamplerTest, GreedyLogprobIsLogSoftmax) {
  const std::vector<float> logits = RandomLogits(1000, 7);
  Sampler sampler({.temperature = 0.0f});
  std::vector<float> row = logits;
  const SampleResult r = sampler.Sample(row);
  EXPECT_EQ(r.token, std::max_element(logits.begin(), logits.end()) - logits.begin());
  EXPECT_NEAR(r.logprob, LogSoftmax(logits)[static_cast<size_t>(r.token)], 1e-5);
}

TEST(SamplerTest, TopKOneIsGreedy) {
  Sampler greedy({.temperature = 0.0f});
  Sampler top1({.temperature = 1.5f, .top_k = 1, .seed = 3});
  for (uint32_t step = 0; step < 100; ++step) {
    const std::vector<float> logits = RandomLogits(700, step);
    std::vector<float> a = logits, b = logits;
    const SampleResult ra = greedy.Sample(a), rb = top1.Sample(b);
    ASSERT_EQ(ra.token, rb.token) << "step " << step;
    EXPECT_EQ(ra.logprob, rb.logprob);
  }
}

// --------------------------------------------------------------- determinism

const std::vector<SamplingParams>& StochasticConfigs() {
  static const std::vector<SamplingParams> configs = {
      {},
      {.temperature = 0.7f},
      {.temperature = 0.8f, .top_k = 40},
      {.temperature = 0.8f, .top_k = 40, .top_p = 0.9f, .min_p = 0.05f},
      {.top_p = 0.9f},
      {.top_p = 0.999f},  // large nucleus: histogram path
      {.temperature = 1.3f, .min_p = 0.1f},
      {.repetition_penalty = 1.3f, .frequency_penalty = 0.5f, .presence_penalty = 0.5f},
  };
  return configs;
}

std::vector<SampleResult> RunSteps(Sampler& sampler, int steps, uint32_t first_row, size_t vocab) {
  std::vector<SampleResult> out;
  for (int i = 0; i < steps; ++i) {
    std::vector<float> row = RandomLogits(vocab, first_row + static_cast<uint32_t>(i), 6.0f);
    out.push_back(sampler.Sample(row));
  }
  return out;
}

void ExpectSame(const std::vector<SampleResult>& a, const std::vector<SampleResult>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].token, b[i].token) << "step " << i;
    ASSERT_EQ(a[i].logprob, b[i].logprob) << "step " << i;
    ASSERT_EQ(a[i].top.size(), b[i].top.size());
    for (size_t j = 0; j < a[i].top.size(); ++j) {
      EXPECT_EQ(a[i].top[j].token, b[i].top[j].token);
      EXPECT_EQ(a[i].top[j].logprob, b[i].top[j].logprob);
    }
  }
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferentTokens) {
  for (SamplingParams params : StochasticConfigs()) {
    params.seed = 42;
    params.top_logprobs = 3;
    Sampler a(params), b(params);
    const std::vector<SampleResult> ra = RunSteps(a, 100, 0, 1000), rb = RunSteps(b, 100, 0, 1000);
    ExpectSame(ra, rb);
    params.seed = 43;
    Sampler c(params);
    const std::vector<SampleResult> rc = RunSteps(c, 100, 0, 1000);
    int differ = 0;
    for (size_t i = 0; i < ra.size(); ++i) differ += ra[i].token != rc[i].token;
    EXPECT_GT(differ, 10) << "temperature " << params.temperature << " top_k " << params.top_k;
  }
}

// Pins the whole algorithm (PRNG, exp, ordering): a different result on some
// machine means sampling is not reproducible there. Update only on purpose.
TEST(SamplerTest, GoldenSequences) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) {
    logits[i] = static_cast<float>((i * 7919) % 1000) / 125.0f - 4.0f;
  }
  struct Case {
    SamplingParams params;
    std::vector<int32_t> want;
  };
  const std::vector<Case> cases = {
      {{.seed = 42}, {88, 383, 672, 926, 988, 771, 718, 852, 766, 582, 680, 287}},
      {{.temperature = 0.6f, .seed = 42},
       {99, 383, 669, 926, 988, 778, 718, 853, 766, 593, 680, 287}},
      {{.top_k = 20, .seed = 42}, {642, 568, 494, 99, 420, 136, 815, 457, 815, 852, 494, 926}},
      {{.top_p = 0.5f, .seed = 42}, {87, 383, 680, 939, 988, 778, 717, 865, 766, 593, 680, 297}},
      {{.top_p = 0.9f, .seed = 42}, {88, 383, 680, 926, 989, 778, 718, 853, 766, 583, 680, 287}},
      {{.min_p = 0.2f, .seed = 42}, {88, 383, 669, 926, 988, 778, 718, 853, 766, 593, 680, 286}},
  };
  for (const Case& c : cases) {
    Sampler sampler(c.params);
    std::vector<int32_t> got;
    for (int i = 0; i < 12; ++i) {
      std::vector<float> row = logits;
      got.push_back(sampler.Sample(row).token);
    }
    EXPECT_EQ(got, c.want);
  }
}

TEST(SamplerTest, ConsumesOneRandomNumberPerDrawWhateverTheRow) {
  for (const SamplingParams& params : StochasticConfigs()) {
    Sampler a(params), b(params);
    std::vector<float> small = RandomLogits(5, 1), large = RandomLogits(50000, 2, 0.5f);
    a.Sample(small);
    b.Sample(large);
    if (params.frequency_penalty != 0.0f) continue;  // the histories differ
    const std::vector<float> logits = RandomLogits(3000, 3);
    std::vector<float> ra = logits, rb = logits;
    EXPECT_EQ(a.Sample(ra).token, b.Sample(rb).token);
  }
}

TEST(SamplerTest, CopyContinuesLikeTheOriginal) {
  for (SamplingParams params : StochasticConfigs()) {
    params.top_logprobs = 2;
    params.penalty_last_n = 8;
    Sampler original(params);
    RunSteps(original, 30, 100, 500);
    Sampler copy(original);
    Sampler assigned({});
    assigned = original;
    const std::vector<SampleResult> want = RunSteps(original, 50, 200, 500);
    ExpectSame(RunSteps(copy, 50, 200, 500), want);
    ExpectSame(RunSteps(assigned, 50, 200, 500), want);
  }
}

// ------------------------------------------------------------- distributions

TEST(SamplerTest, FiltersKeepTheRightCandidates) {
  const std::vector<float> probs = LogitsFromProbs({0.4, 0.25, 0.15, 0.1, 0.06, 0.04});
  struct Case {
    SamplingParams params;
    std::vector<float> logits;
    std::set<int32_t> want;
  };
  const std::vector<Case> cases = {
      {{}, probs, {0, 1, 2, 3, 4, 5}},
      {{.top_p = 0.3f}, probs, {0}},
      {{.top_p = 0.5f}, probs, {0, 1}},
      {{.top_p = 0.7f}, probs, {0, 1, 2}},
      {{.min_p = 0.3f}, probs, {0, 1, 2}},  // p >= 0.12
      {{.min_p = 0.5f}, probs, {0, 1}},     // p >= 0.2
      {{.top_k = 2}, probs, {0, 1}},
      {{.top_k = 4, .top_p = 0.7f}, probs, {0, 1}},  // renormalised over 4: .44, .72
      {{.top_k = 3, .min_p = 0.5f}, probs, {0, 1}},
      {{.temperature = 0.5f, .top_p = 0.7f}, probs, {0, 1}},         // p^2: .62, .85
      {{.temperature = 2.0f, .min_p = 0.45f}, probs, {0, 1, 2, 3}},  // sqrt p >= .285
      {{.top_k = 2}, {1, 1, 1, 0}, {0, 1}},                          // ties: lower ids first
      {{.top_p = 0.5f}, {1, 1, 1, 1}, {0, 1}},                       // ties: lower ids first
      {{.top_k = 10}, {0, -kInf, 0, kNaN}, {0, 2}},                  // -inf and NaN never drawn
  };
  for (const Case& c : cases) {
    Sampler sampler(c.params);
    EXPECT_EQ(DrawnSet(sampler, c.logits, 3000), c.want)
        << "top_k " << c.params.top_k << " top_p " << c.params.top_p << " min_p " << c.params.min_p
        << " temperature " << c.params.temperature;
  }
}

TEST(SamplerTest, FrequenciesMatchTheDistribution) {
  struct Case {
    SamplingParams params;
    size_t vocab;
    float spread;
    int draws;
  };
  const std::vector<Case> cases = {
      {{}, 10, 4.0f, 20000},
      {{.temperature = 0.7f}, 10, 4.0f, 20000},
      {{.temperature = 1.7f}, 600, 6.0f, 10000},  // several chunks
      {{.min_p = 0.1f}, 600, 6.0f, 8000},
      {{.top_k = 5}, 50, 4.0f, 20000},
      {{.temperature = 0.9f, .top_k = 8, .top_p = 0.8f}, 50, 4.0f, 20000},
      {{.top_p = 0.8f}, 50, 4.0f, 20000},   // nucleus found among the best 64
      {{.top_p = 0.9f}, 200, 3.0f, 10000},  // nucleus over 64: histogram
      {{.temperature = 1.2f, .top_p = 0.95f, .min_p = 0.2f}, 200, 3.0f, 10000},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::vector<float> logits =
        RandomLogits(c.vocab, 1000 + static_cast<uint32_t>(i), c.spread);
    SamplingParams params = c.params;
    params.seed = 7;
    Sampler sampler(params);
    int dof = 0;
    const double stat = ChiSquare(Histogram(sampler, logits, c.draws),
                                  ReferenceProbs(logits, params), c.draws, &dof);
    ASSERT_GT(dof, 0);
    // About a 1e-6 chance of failing for a correct sampler (and the seed is fixed).
    EXPECT_LT(stat, dof + 6.0 * std::sqrt(2.0 * dof) + 10.0) << "case " << i << " dof " << dof;
  }
}

TEST(SamplerTest, NaNAndInfinityNeverCrashOrGetDrawn) {
  Sampler sampler({.seed = 5});
  std::vector<float> logits = RandomLogits(300, 9);
  for (size_t i = 0; i < logits.size(); i += 7) logits[i] = kNaN;
  for (size_t i = 3; i < logits.size(); i += 11) logits[i] = -kInf;
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> row = logits;
    const SampleResult r = sampler.Sample(row);
    ASSERT_NE(r.token % 7, 0);
    ASSERT_NE(r.token % 11, 3);
    ASSERT_TRUE(std::isfinite(r.logprob));
  }
  std::vector<float> two_inf = RandomLogits(300, 10);
  two_inf[17] = two_inf[200] = kInf;
  EXPECT_EQ(DrawnSet(sampler, two_inf, 500), (std::set<int32_t>{17, 200}));
  std::vector<float> all_nan(40, kNaN);
  EXPECT_EQ(DrawnSet(sampler, all_nan, 4000).size(), 40u);  // uniform
}

// ----------------------------------------------------------------- penalties

TEST(SamplerTest, PenaltiesChangeLogitsAsSpecified) {
  struct Case {
    SamplingParams params;
    std::vector<int32_t> history;
    std::vector<float> logits;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      {{.repetition_penalty = 2.0f}, {0, 1}, {2, -2, 2, -2}, {1, -4, 2, -2}},
      {{.repetition_penalty = 2.0f}, {0, 0, 0}, {0, 1}, {0, 1}},
      {{.frequency_penalty = 0.5f}, {0, 0, 0, 1}, {1, 1, 1}, {-0.5f, 0.5f, 1}},
      {{.presence_penalty = 0.7f}, {0, 0, 2}, {1, 1, 1}, {0.3f, 1, 0.3f}},
      {{.frequency_penalty = -1.0f}, {1}, {1, 1}, {1, 2}},
      {{.repetition_penalty = 1.5f, .frequency_penalty = 0.25f, .presence_penalty = 0.5f},
       {0, 0},
       {3, 3},
       {1, 3}},                                                          // 3 / 1.5 - 2 * 0.25 - 0.5
      {{.presence_penalty = 1.0f}, {100, -4, 1}, {1, 1, 1}, {1, 0, 1}},  // out of range: ignored
      {{.presence_penalty = 1.0f, .penalty_last_n = 2}, {0, 1, 2}, {1, 1, 1}, {1, 0, 0}},
      {{.presence_penalty = 1.0f, .penalty_last_n = -1}, {0, 1, 2}, {1, 1, 1}, {0, 0, 0}},
      {{.presence_penalty = 1.0f, .penalty_last_n = 0}, {0, 1, 2}, {1, 1, 1}, {1, 1, 1}},
      {{.frequency_penalty = 1.0f, .penalty_last_n = 3}, {0, 0, 1, 0}, {0, 0}, {-2, -1}},
      {{.frequency_penalty = 1.0f, .penalty_last_n = 2}, {0, 0, 0, 1, 1}, {0, 0}, {0, -2}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SamplingParams params = cases[i].params;
    params.temperature = 0.0f;
    Sampler sampler(params);
    for (int32_t token : cases[i].history) sampler.Accept(token);
    std::vector<float> row = cases[i].logits;
    sampler.Sample(row);
    ASSERT_EQ(row.size(), cases[i].want.size());
    for (size_t j = 0; j < row.size(); ++j) {
      EXPECT_FLOAT_EQ(row[j], cases[i].want[j]) << "case " << i << " token " << j;
    }
  }
}

TEST(SamplerTest, SampledTokensJoinTheHistory) {
  Sampler sampler({.temperature = 0.0f, .presence_penalty = 2.0f});
  std::vector<int32_t> tokens;
  for (int i = 0; i < 3; ++i) {
    std::vector<float> row = {1.0f, 0.5f, 0.0f};
    tokens.push_back(sampler.Sample(row).token);
  }
  EXPECT_EQ(tokens, (std::vector<int32_t>{0, 1, 2}));
}

// ------------------------------------------------------------------ logprobs

TEST(SamplerTest, LogprobsAreNormalisedSortedAndBeforeTemperature) {
  const std::vector<float> logits = RandomLogits(20, 11);
  const std::vector<double> want = LogSoftmax(logits);
  Sampler sampler({.temperature = 0.4f, .top_k = 3, .top_p = 0.8f, .top_logprobs = 20});
  for (int i = 0; i < 20; ++i) {
    std::vector<float> row = logits;
    const SampleResult r = sampler.Sample(row);
    EXPECT_NEAR(r.logprob, want[static_cast<size_t>(r.token)], 1e-5);
    ASSERT_EQ(r.top.size(), 20u);
    double total = 0.0;
    for (size_t j = 0; j < r.top.size(); ++j) {
      total += std::exp(r.top[j].logprob);
      EXPECT_NEAR(r.top[j].logprob, want[static_cast<size_t>(r.top[j].token)], 1e-5);
      if (j > 0) {
        EXPECT_GT(r.top[j - 1].logprob, r.top[j].logprob);
      }
      if (r.top[j].token == r.token) {
        EXPECT_EQ(r.top[j].logprob, r.logprob);
      }
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

TEST(SamplerTest, TopLogprobsBreakTiesByIdAndStopAtVocabSize) {
  Sampler sampler({.temperature = 0.0f, .top_logprobs = 5});
  std::vector<float> row = {1, 2, 2, 0};
  const SampleResult r = sampler.Sample(row);
  ASSERT_EQ(r.top.size(), 4u);
  EXPECT_EQ(r.top[0].token, 1);
  EXPECT_EQ(r.top[1].token, 2);
  EXPECT_EQ(r.top[2].token, 0);
  EXPECT_EQ(r.top[3].token, 3);
  EXPECT_EQ(r.top[0].logprob, r.top[1].logprob);
}

TEST(SamplerTest, LogprobsSeeThePenalties) {
  Sampler sampler({.temperature = 0.0f, .presence_penalty = 1.0f, .top_logprobs = 2});
  sampler.Accept(0);
  std::vector<float> row = {2, 0};
  const SampleResult r = sampler.Sample(row);  // penalised logits {1, 0}
  EXPECT_NEAR(r.logprob, -std::log1p(std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(r.top[1].logprob, -1.0 - std::log1p(std::exp(-1.0)), 1e-6);
}

// A vocabulary the size of Qwen2's through every path, a few draws each.
TEST(SamplerTest, LargeVocabulary) {
  const std::vector<float> logits = RandomLogits(151936, 12, 12.0f);
  std::vector<SamplingParams> configs = StochasticConfigs();
  configs.push_back({.temperature = 0.0f, .top_logprobs = 20});
  configs.push_back({.top_k = 1000});
  for (const SamplingParams& params : configs) {
    Sampler sampler(params);
    const std::vector<double> probs = ReferenceProbs(logits, params);
    for (int i = 0; i < 3; ++i) {
      std::vector<float> row = logits;
      const SampleResult r = sampler.Sample(row);
      ASSERT_GE(r.token, 0);
      ASSERT_LT(r.token, 151936);
      if (params.temperature > 0.0f && params.frequency_penalty == 0.0f) {
        EXPECT_GT(probs[static_cast<size_t>(r.token)], 0.0);
      }
      EXPECT_TRUE(std::isfinite(r.logprob));
    }
  }
}

}  // namespace
}  // namespace surge::engine::runner
