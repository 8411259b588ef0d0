// Prometheus text parsing and the resource figures computed from scrapes.
#include "bench/load/metrics_scrape.h"

#include <cmath>

#include "gtest/gtest.h"

namespace surge::bench {
namespace {

TEST(ParsePrometheusTextTest, SumsSamplesAcrossLabelsAndSkipsComments) {
  const auto v = ParsePrometheusText(
      "# HELP process_cpu_seconds_total Total CPU.\n"
      "# TYPE process_cpu_seconds_total counter\n"
      "process_cpu_seconds_total 12.5\n"
      "\n"
      "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 100\n"
      "vllm:prefix_cache_queries_total{engine=\"1\",model_name=\"a}b \\\"q\\\"\"} 50 1712345678\n"
      "   process_resident_memory_bytes   1.5e9  \n"
      "weird_inf +Inf\n"
      "not a metric line\n"
      "broken{label=\"unterminated 5\n"
      "no_value\n");
  EXPECT_DOUBLE_EQ(v.at("process_cpu_seconds_total"), 12.5);
  EXPECT_DOUBLE_EQ(v.at("vllm:prefix_cache_queries_total"), 150);
  EXPECT_DOUBLE_EQ(v.at("process_resident_memory_bytes"), 1.5e9);
  EXPECT_TRUE(std::isinf(v.at("weird_inf")));
  EXPECT_EQ(v.count("broken"), 0u);
  EXPECT_EQ(v.count("no_value"), 0u);
  EXPECT_EQ(v.count("not"), 0u);
}

TEST(ExtractSampleTest, AcceptsNamesWithAndWithoutTotal) {
  MetricsSample a = ExtractSample(
      ParsePrometheusText("vllm:prefix_cache_queries_total 10\nvllm:prefix_cache_hits_total 4\n"));
  EXPECT_EQ(a.prefix_queries.value_or(-1), 10);
  EXPECT_EQ(a.prefix_hits.value_or(-1), 4);
  EXPECT_FALSE(a.cpu_seconds.has_value());
  MetricsSample b = ExtractSample(
      ParsePrometheusText("vllm:prefix_cache_queries 7\nvllm:prefix_cache_hits 3\n"
                          "process_cpu_seconds_total 2\nprocess_resident_memory_bytes 1000\n"));
  EXPECT_EQ(b.prefix_queries.value_or(-1), 7);
  EXPECT_EQ(b.prefix_hits.value_or(-1), 3);
  EXPECT_EQ(b.cpu_seconds.value_or(-1), 2);
  EXPECT_EQ(b.resident_bytes.value_or(-1), 1000);
}

TEST(ComputeResourceUseTest, DeltasPeakAndHitRate) {
  const MetricsSample before{
      .cpu_seconds = 10, .resident_bytes = 100e6, .prefix_queries = 1000, .prefix_hits = 200};
  const MetricsSample after{
      .cpu_seconds = 13, .resident_bytes = 120e6, .prefix_queries = 1400, .prefix_hits = 500};
  const ResourceUse r = ComputeResourceUse(before, after, 150e6, 2.0);
  EXPECT_DOUBLE_EQ(r.cpu_cores.value_or(-1), 1.5);  // 3 CPU seconds in 2 s
  EXPECT_DOUBLE_EQ(r.peak_resident_bytes.value_or(-1), 150e6);
  EXPECT_DOUBLE_EQ(r.prefix_cache_queries.value_or(-1), 400);
  EXPECT_DOUBLE_EQ(r.prefix_cache_hits.value_or(-1), 300);
  EXPECT_DOUBLE_EQ(r.prefix_cache_hit_rate.value_or(-1), 0.75);
  // Without samples during the level the scrapes around it give the peak.
  EXPECT_DOUBLE_EQ(
      ComputeResourceUse(before, after, std::nullopt, 2.0).peak_resident_bytes.value_or(-1), 120e6);
}

TEST(ComputeResourceUseTest, RestartOrMissingSeriesGiveNoFigure) {
  const MetricsSample before{.cpu_seconds = 10, .prefix_queries = 1000, .prefix_hits = 10};
  const MetricsSample restarted{.cpu_seconds = 1, .prefix_queries = 0, .prefix_hits = 0};
  const ResourceUse r = ComputeResourceUse(before, restarted, std::nullopt, 1.0);
  EXPECT_FALSE(r.cpu_cores.has_value());
  EXPECT_FALSE(r.prefix_cache_hit_rate.has_value());
  EXPECT_FALSE(r.peak_resident_bytes.has_value());
  // No lookups during the level: no rate (not 0/0).
  const MetricsSample same{.prefix_queries = 5, .prefix_hits = 5};
  EXPECT_FALSE(ComputeResourceUse(same, same, std::nullopt, 1.0).prefix_cache_hit_rate);
  EXPECT_FALSE(ComputeResourceUse(MetricsSample{}, MetricsSample{}, std::nullopt, 1.0).any());
}

}  // namespace
}  // namespace surge::bench
