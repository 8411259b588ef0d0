#include "base/metrics.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace surge::base {
namespace {

TEST(MetricsTest, RendersPrometheusText) {
  MetricsRegistry r;
  auto& requests = r.AddCounter("vllm:request_success", "Finished requests.", {"finished_reason"});
  requests.With({"stop"}).Inc();
  requests.With({"length"}).Inc(2);
  r.AddGauge("vllm:num_requests_running", "Running.").Get().Set(3);
  auto& ttft = r.AddHistogram("vllm:time_to_first_token_seconds", "TTFT.", {0.1, 1.0});
  ttft.Get().Observe(0.05);
  ttft.Get().Observe(0.5);
  ttft.Get().Observe(5);
  r.AddCallbackGauge("vllm:kv_cache_usage_perc", "KV usage.", [] { return 0.25; });
  const std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE vllm:request_success counter\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:request_success{finished_reason=\"length\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:request_success{finished_reason=\"stop\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:num_requests_running 3\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{le=\"0.1\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_sum 5.55\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:kv_cache_usage_perc 0.25\n"), std::string::npos);
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("process_cpu_seconds_total "), std::string::npos);
  EXPECT_NE(text.find("process_open_fds "), std::string::npos);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  MetricsRegistry r;
  r.AddCounter("c", "h", {"l"}).With({"a\"b\\c\nd"}).Inc();
  EXPECT_NE(r.Render().find("c{l=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  Counter& c = r.AddCounter("c", "h").Get();
  Histogram& h = r.AddHistogram("h", "h", {1.0}).Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(h.CumulativeCounts().back(), 40000u);
  EXPECT_EQ(h.sum(), 20000);
}

}  // namespace
}  // namespace surge::base
