// Reads the few Prometheus series `surge bench` reports as resource use: CPU
// time and resident memory of the server process, and its prefix-cache
// counters (Surge and vLLM export the same names).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bench/load/config.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace surge::server::http {
class HttpClient;
}  // namespace surge::server::http

namespace surge::bench {

// Prometheus text exposition format, reduced to what we need: the sum of all
// samples of each metric name, labels dropped (a server with several engines
// labels each; their counters add up). Comments, blank lines and malformed
// lines are skipped; values may be NaN or +Inf/-Inf. Never fails.
std::map<std::string, double> ParsePrometheusText(std::string_view text);

struct MetricsSample {
  std::optional<double> cpu_seconds;     // process_cpu_seconds_total
  std::optional<double> resident_bytes;  // process_resident_memory_bytes
  std::optional<double> prefix_queries;  // vllm:prefix_cache_queries[_total]
  std::optional<double> prefix_hits;     // vllm:prefix_cache_hits[_total]
};
MetricsSample ExtractSample(const std::map<std::string, double>& values);

struct ResourceUse {
  std::optional<double> cpu_cores;  // CPU seconds used / wall seconds
  std::optional<double> peak_resident_bytes;
  std::optional<double> prefix_cache_queries;  // tokens looked up during the level
  std::optional<double> prefix_cache_hits;
  std::optional<double> prefix_cache_hit_rate;  // hits / queries (when queries > 0)
  bool any() const { return cpu_cores || peak_resident_bytes || prefix_cache_queries; }
};

// Figures of one level from the scrapes just before and after it, the peak of
// the resident-memory samples taken during it, and its wall time. A counter
// that went backwards (server restarted) gives no figure.
ResourceUse ComputeResourceUse(const MetricsSample& before, const MetricsSample& after,
                               std::optional<double> peak_resident_bytes, double wall_s);

// Blocking GET <target>/metrics. Errors: transport failures, a status other
// than 200 (the server has no /metrics), or a body without any known series.
absl::StatusOr<MetricsSample> ScrapeMetrics(const TargetUrl& target, const std::string& api_key,
                                            std::chrono::milliseconds timeout);

// Samples the target's resident memory every `period` during a level, on the
// io_context that runs the level (one GET /metrics at a time; a slow or
// failing scrape is skipped, never an error of the level).
//
// Thread safety: Start(), Stop() and peak_resident_bytes() on the io_context's
// thread. The io_context and client must outlive the sampler's outstanding
// handlers (run the context until it has no work after Stop()).
class ResidentMemorySampler {
 public:
  ResidentMemorySampler(boost::asio::io_context& ioc, server::http::HttpClient& client,
                        TargetUrl target, std::string api_key, std::chrono::milliseconds period);
  ~ResidentMemorySampler();
  ResidentMemorySampler(const ResidentMemorySampler&) = delete;
  ResidentMemorySampler& operator=(const ResidentMemorySampler&) = delete;

  void Start();
  void Stop();
  std::optional<double> peak_resident_bytes() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace surge::bench
