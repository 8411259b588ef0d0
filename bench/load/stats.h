// What one request measured (RequestRecord), and the figures of a level
// computed from all of them (LevelStats): latency summaries, throughput,
// goodput, errors.
//
// Definitions (all times from the moment the request was due: its send time
// in closed loop, its scheduled arrival in open loop):
//   TTFT  time until the first chunk carrying output text.
//   E2E   time until the response was complete.
//   TPOT  per request with at least 2 output tokens and a TTFT:
//         (E2E - TTFT) / (output_tokens - 1).
//   ITL   gaps between successive content chunks of one request, pooled over
//         all successful requests (a level with R requests of k chunks each
//         has R*(k-1) ITL samples).
//   Percentiles: linear interpolation between closest ranks (Hyndman & Fan
//         type 7, NumPy's default): for n sorted values x[0..n-1] and p in
//         [0, 100], h = (n-1)*p/100, P = x[floor h] + (h - floor h) *
//         (x[floor h + 1] - x[floor h]). p50 of {1,2,3,4} is 2.5.
//   Throughput: over the level's wall time (first send to last completion),
//         successful requests only. Goodput: successful requests meeting every
//         SLO given, per second of the same wall time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace surge::bench {

enum class ErrorKind {
  kNone,
  kHttpStatus,   // the server answered with a status other than 200
  kTimeout,      // connect, read or the per-request deadline ran out
  kConnection,   // refused, reset, closed early
  kProtocol,     // not valid HTTP, SSE or JSON; stream ended without [DONE]
  kStreamError,  // the stream carried an error event
  kCancelled,    // the run was interrupted (not counted as an error)
};
std::string ErrorKindName(ErrorKind kind);  // "http_status", "timeout", ...

struct RequestRecord {
  int64_t index = 0;
  ErrorKind error = ErrorKind::kNone;
  int http_status = 0;  // 0 if no status line arrived
  std::string error_message;
  double start_s = 0;  // since the level started
  double e2e_s = 0;
  std::optional<double> ttft_s;
  std::vector<double> itl_s;
  int64_t prompt_tokens = 0;             // from usage; 0 when not reported
  int64_t output_tokens = 0;             // usage, else the number of content chunks
  std::optional<int64_t> cached_tokens;  // usage.prompt_tokens_details.cached_tokens
  bool usage_reported = false;
  int64_t max_tokens = 0;  // what was asked

  bool ok() const { return error == ErrorKind::kNone; }
};

// TPOT in seconds as defined above, or nullopt when undefined.
std::optional<double> Tpot(const RequestRecord& r);

// Linear interpolation between closest ranks; `sorted` ascending, non-empty;
// p in [0, 100].
double Percentile(std::span<const double> sorted, double p);

struct Summary {
  int64_t count = 0;  // all other fields are 0 when count is 0
  double mean = 0;
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};
Summary Summarize(std::vector<double> values);

struct Slo {
  double ttft_ms = 0;  // 0 = no bound
  double tpot_ms = 0;
  bool any() const { return ttft_ms > 0 || tpot_ms > 0; }
};
// A successful request meets the SLO when its TTFT (if bounded) and TPOT (if
// bounded and defined) are within the bounds. A bounded TTFT that was never
// observed (no streaming) fails.
bool MeetsSlo(const RequestRecord& r, const Slo& slo);

struct LevelStats {
  int64_t num_requests = 0;  // finished, successful or not (cancelled excluded)
  int64_t num_ok = 0;
  int64_t num_errors = 0;
  int64_t num_cancelled = 0;
  std::map<int, int64_t> errors_by_status;        // HTTP status -> count
  std::map<std::string, int64_t> errors_by_kind;  // ErrorKindName -> count
  std::vector<std::string> error_samples;         // a few distinct messages
  double duration_s = 0;
  double request_throughput = 0;  // ok requests/s
  double output_throughput = 0;   // output tokens/s
  double total_token_throughput = 0;
  std::optional<double> goodput;  // requests/s meeting the SLO (when one is set)
  int64_t num_slo_met = 0;
  int64_t prompt_tokens = 0;  // totals over ok requests
  int64_t output_tokens = 0;
  std::optional<int64_t> cached_tokens;  // when any response reported it
  int64_t num_usage_reported = 0;
  int64_t num_short_outputs = 0;  // ok requests with fewer tokens than max_tokens
  Summary ttft_ms, tpot_ms, itl_ms, e2e_ms, prompt_tokens_per_request, output_tokens_per_request;
};

// `duration_s` is the level's wall time.
LevelStats ComputeLevelStats(std::span<const RequestRecord> records, double duration_s,
                             const Slo& slo);

}  // namespace surge::bench
