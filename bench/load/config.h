// BenchConfig: everything one `surge bench` run is told, and the checks that
// refuse a run before it starts (no cap, remote target, nonsense values).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace surge::bench {

// "128" (fixed) or "64:512" (uniform over the closed interval).
struct IntRange {
  int64_t min = 0;
  int64_t max = 0;
  bool fixed() const { return min == max; }
};

// `flag` names the option in error messages.
absl::StatusOr<IntRange> ParseIntRange(std::string_view text, std::string_view flag);
// "1,4,16" → {1, 4, 16}; each value must be a finite positive number.
absl::StatusOr<std::vector<double>> ParseNumberList(std::string_view text, std::string_view flag);

// An http:// base URL: "http://127.0.0.1:8080", optionally ending in "/" or
// "/v1" (both dropped: the API paths are added per request). IPv6 hosts in
// brackets. https is refused (the client speaks plain HTTP only).
struct TargetUrl {
  std::string host;  // without brackets
  uint16_t port = 80;
  std::string text;  // normalized, for reports: "http://host:port"
};
absl::StatusOr<TargetUrl> ParseTargetUrl(std::string_view url);

// 127.0.0.0/8, ::1 and "localhost". Other names are not resolved: a name
// that is not literally loopback counts as remote.
bool IsLoopbackHost(std::string_view host);

enum class Endpoint { kCompletions, kChat };
enum class LoadMode { kConcurrency, kRate };

const char* EndpointName(Endpoint e);  // "completions" / "chat"
const char* EndpointPath(Endpoint e);  // "/v1/completions" / "/v1/chat/completions"
const char* LoadModeName(LoadMode m);  // "concurrency" / "rate"

struct BenchConfig {
  std::string url;
  std::string compare_url;  // empty: one target
  std::string model;        // empty: the first id of each target's /v1/models
  std::string api_key;
  bool allow_remote = false;

  LoadMode mode = LoadMode::kConcurrency;
  std::vector<double> levels = {1};  // concurrencies, or rates in requests/s
  int64_t requests = 0;              // per level; 0 = no count cap
  double duration_s = 0;             // per level; 0 = no time cap
  int64_t warmup = 0;                // requests per target before its first level
  int64_t max_inflight = 4096;       // open loop: requests in flight at most

  IntRange prompt_tokens{128, 128};  // the per-request part of synthetic prompts
  int64_t shared_prefix_tokens = 0;  // system prompt before it (0 = none)
  int64_t num_prefixes = 1;          // distinct system prompts
  std::string dataset_path;          // JSONL instead of synthetic prompts

  IntRange max_tokens{128, 128};
  bool ignore_eos = false;
  double temperature = 0;
  Endpoint endpoint = Endpoint::kCompletions;
  bool stream = true;

  double slo_ttft_ms = 0;  // 0 = no bound
  double slo_tpot_ms = 0;
  double timeout_s = 600;  // per request
  uint64_t seed = 0;
  bool scrape_metrics = true;

  std::string json_path;
  std::string plot_path;
};

// Everything a run needs that flags alone cannot guarantee: a cap on every
// level, loopback targets unless allow_remote, sane ranges. The message says
// which flag to change.
absl::Status ValidateConfig(const BenchConfig& config);

}  // namespace surge::bench
