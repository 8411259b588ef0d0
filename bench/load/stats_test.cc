// The statistics of `surge bench`: the percentile definition, summaries, the
// TPOT and ITL definitions, goodput and error accounting.
#include "bench/load/stats.h"

#include <vector>

#include "gtest/gtest.h"

namespace surge::bench {
namespace {

RequestRecord Ok(double ttft_s, double e2e_s, int64_t tokens, std::vector<double> itl = {}) {
  RequestRecord r;
  r.ttft_s = ttft_s;
  r.e2e_s = e2e_s;
  r.output_tokens = tokens;
  r.max_tokens = tokens;
  r.itl_s = std::move(itl);
  r.usage_reported = true;
  r.prompt_tokens = 10;
  return r;
}

RequestRecord Failed(ErrorKind kind, int status = 0, std::string message = "") {
  RequestRecord r;
  r.error = kind;
  r.http_status = status;
  r.error_message = std::move(message);
  return r;
}

TEST(PercentileTest, LinearInterpolationBetweenClosestRanks) {
  const std::vector<double> four = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(Percentile(four, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(four, 50), 2.5);  // h = 1.5
  EXPECT_DOUBLE_EQ(Percentile(four, 90), 3.7);  // h = 2.7
  EXPECT_DOUBLE_EQ(Percentile(four, 100), 4);
  const std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(Percentile(one, 0), 7);
  EXPECT_DOUBLE_EQ(Percentile(one, 99), 7);
  // 1..100: h = 0.99 * 99 = 98.01 -> 99 + 0.01 * (100 - 99).
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_NEAR(Percentile(hundred, 99), 99.01, 1e-9);
  EXPECT_NEAR(Percentile(hundred, 90), 90.1, 1e-9);
  EXPECT_DOUBLE_EQ(Percentile(hundred, 50), 50.5);
}

TEST(SummarizeTest, SortsAndSummarizes) {
  const Summary s = Summarize({5, 1, 4, 2, 3});
  EXPECT_EQ(s.count, 5);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 5);
  EXPECT_DOUBLE_EQ(s.p50, 3);
  EXPECT_DOUBLE_EQ(s.p90, 4.6);
  EXPECT_NEAR(s.p99, 4.96, 1e-12);
  const Summary empty = Summarize({});
  EXPECT_EQ(empty.count, 0);
  EXPECT_EQ(empty.p99, 0);
}

TEST(TpotTest, ExcludesTheFirstToken) {
  // 0.1 s to the first token, 10 tokens by 1.0 s: 9 gaps over 0.9 s.
  EXPECT_NEAR(*Tpot(Ok(0.1, 1.0, 10)), 0.1, 1e-12);
  EXPECT_FALSE(Tpot(Ok(0.1, 0.1, 1)).has_value());  // one token: undefined
  RequestRecord no_ttft = Ok(0, 1.0, 10);
  no_ttft.ttft_s.reset();
  EXPECT_FALSE(Tpot(no_ttft).has_value());
}

TEST(LevelStatsTest, TpotItlE2eAndThroughput) {
  std::vector<RequestRecord> records = {
      Ok(0.1, 0.5, 5, {0.1, 0.1, 0.1, 0.1}),  // TPOT 0.1
      Ok(0.2, 1.0, 5, {0.3, 0.1, 0.2, 0.2}),  // TPOT 0.2
  };
  const LevelStats s = ComputeLevelStats(records, 2.0, Slo{});
  EXPECT_EQ(s.num_requests, 2);
  EXPECT_EQ(s.num_ok, 2);
  EXPECT_EQ(s.num_errors, 0);
  EXPECT_EQ(s.output_tokens, 10);
  EXPECT_EQ(s.prompt_tokens, 20);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(s.output_throughput, 5.0);
  EXPECT_DOUBLE_EQ(s.total_token_throughput, 15.0);
  EXPECT_FALSE(s.goodput.has_value());  // no SLO given
  EXPECT_EQ(s.tpot_ms.count, 2);
  EXPECT_NEAR(s.tpot_ms.mean, 150, 1e-9);
  EXPECT_EQ(s.itl_ms.count, 8);  // pooled: 4 gaps from each request
  EXPECT_NEAR(s.itl_ms.mean, 150, 1e-9);
  EXPECT_NEAR(s.itl_ms.max, 300, 1e-9);
  EXPECT_NEAR(s.ttft_ms.p50, 150, 1e-9);
  EXPECT_NEAR(s.e2e_ms.max, 1000, 1e-9);
}

TEST(LevelStatsTest, GoodputCountsRequestsWithinEveryBound) {
  std::vector<RequestRecord> records = {
      Ok(0.1, 0.5, 5),  // TTFT 100 ms, TPOT 100 ms: meets both
      Ok(0.3, 0.7, 5),  // TTFT 300 ms: misses TTFT
      Ok(0.1, 1.3, 5),  // TPOT 300 ms: misses TPOT
      Ok(0.1, 0.1, 1),  // TPOT undefined: TTFT alone decides
      Failed(ErrorKind::kTimeout),
  };
  const LevelStats s = ComputeLevelStats(records, 2.0, Slo{.ttft_ms = 200, .tpot_ms = 150});
  EXPECT_EQ(s.num_slo_met, 2);
  ASSERT_TRUE(s.goodput.has_value());
  EXPECT_DOUBLE_EQ(*s.goodput, 1.0);
  EXPECT_DOUBLE_EQ(s.request_throughput, 2.0);
}

TEST(LevelStatsTest, ErrorsByStatusAndKindCancelledApart) {
  std::vector<RequestRecord> records = {
      Ok(0.1, 0.5, 5),
      Failed(ErrorKind::kHttpStatus, 429, "HTTP 429: queue full"),
      Failed(ErrorKind::kHttpStatus, 429, "HTTP 429: queue full"),
      Failed(ErrorKind::kHttpStatus, 503, "HTTP 503: draining"),
      Failed(ErrorKind::kTimeout, 0, "timeout"),
      Failed(ErrorKind::kConnection, 0, "connection refused"),
      Failed(ErrorKind::kCancelled),
  };
  const LevelStats s = ComputeLevelStats(records, 1.0, Slo{});
  EXPECT_EQ(s.num_requests, 6);
  EXPECT_EQ(s.num_ok, 1);
  EXPECT_EQ(s.num_errors, 5);
  EXPECT_EQ(s.num_cancelled, 1);
  EXPECT_EQ(s.errors_by_status.at(429), 2);
  EXPECT_EQ(s.errors_by_status.at(503), 1);
  EXPECT_EQ(s.errors_by_kind.at("http_status"), 3);
  EXPECT_EQ(s.errors_by_kind.at("timeout"), 1);
  EXPECT_EQ(s.errors_by_kind.at("connection"), 1);
  EXPECT_EQ(s.errors_by_kind.count("cancelled"), 0u);
  // Distinct messages only.
  EXPECT_EQ(s.error_samples.size(), 4u);
  EXPECT_EQ(s.e2e_ms.count, 1);  // latencies from successful requests only
}

TEST(LevelStatsTest, CachedTokensOnlyWhenReported) {
  std::vector<RequestRecord> records = {Ok(0.1, 0.5, 5), Ok(0.1, 0.5, 3)};
  records[1].max_tokens = 8;  // ended early
  EXPECT_FALSE(ComputeLevelStats(records, 1.0, Slo{}).cached_tokens.has_value());
  records[0].cached_tokens = 16;
  records[1].cached_tokens = 0;
  const LevelStats s = ComputeLevelStats(records, 1.0, Slo{});
  EXPECT_EQ(s.cached_tokens.value_or(-1), 16);
  EXPECT_EQ(s.num_short_outputs, 1);
}

}  // namespace
}  // namespace surge::bench
