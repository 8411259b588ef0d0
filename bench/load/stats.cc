#include "bench/load/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace surge::bench {
namespace {

constexpr size_t kMaxErrorSamples = 5;

void CountError(const RequestRecord& r, LevelStats* s) {
  ++s->num_errors;
  ++s->errors_by_kind[ErrorKindName(r.error)];
  if (r.http_status != 0 && r.http_status != 200) ++s->errors_by_status[r.http_status];
  if (s->error_samples.size() < kMaxErrorSamples && !r.error_message.empty() &&
      std::find(s->error_samples.begin(), s->error_samples.end(), r.error_message) ==
          s->error_samples.end()) {
    s->error_samples.push_back(r.error_message);
  }
}

}  // namespace

std::string ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone:
      return "none";
    case ErrorKind::kHttpStatus:
      return "http_status";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kConnection:
      return "connection";
    case ErrorKind::kProtocol:
      return "protocol";
    case ErrorKind::kStreamError:
      return "stream_error";
    case ErrorKind::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<double> Tpot(const RequestRecord& r) {
  if (!r.ttft_s.has_value() || r.output_tokens < 2) return std::nullopt;
  return (r.e2e_s - *r.ttft_s) / static_cast<double>(r.output_tokens - 1);
}

double Percentile(std::span<const double> sorted, double p) {
  const double h = static_cast<double>(sorted.size() - 1) * std::clamp(p, 0.0, 100.0) / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted[lo];
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

Summary Summarize(std::vector<double> values) {
  Summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = static_cast<int64_t>(values.size());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.count);
  s.min = values.front();
  s.max = values.back();
  s.p50 = Percentile(values, 50);
  s.p90 = Percentile(values, 90);
  s.p99 = Percentile(values, 99);
  return s;
}

bool MeetsSlo(const RequestRecord& r, const Slo& slo) {
  if (!r.ok()) return false;
  if (slo.ttft_ms > 0 && (!r.ttft_s.has_value() || *r.ttft_s * 1000 > slo.ttft_ms)) return false;
  if (slo.tpot_ms > 0) {
    const std::optional<double> tpot = Tpot(r);
    if (tpot.has_value() && *tpot * 1000 > slo.tpot_ms) return false;
  }
  return true;
}

LevelStats ComputeLevelStats(std::span<const RequestRecord> records, double duration_s,
                             const Slo& slo) {
  LevelStats s;
  s.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2e, prompt, output;
  for (const RequestRecord& r : records) {
    if (r.error == ErrorKind::kCancelled) {
      ++s.num_cancelled;
      continue;
    }
    ++s.num_requests;
    if (!r.ok()) {
      CountError(r, &s);
      continue;
    }
    ++s.num_ok;
    if (MeetsSlo(r, slo)) ++s.num_slo_met;
    s.prompt_tokens += r.prompt_tokens;
    s.output_tokens += r.output_tokens;
    if (r.cached_tokens.has_value())
      s.cached_tokens = s.cached_tokens.value_or(0) + *r.cached_tokens;
    if (r.usage_reported) ++s.num_usage_reported;
    if (r.output_tokens < r.max_tokens) ++s.num_short_outputs;
    if (r.ttft_s.has_value()) ttft.push_back(*r.ttft_s * 1000);
    if (std::optional<double> t = Tpot(r); t.has_value()) tpot.push_back(*t * 1000);
    for (double gap : r.itl_s) itl.push_back(gap * 1000);
    e2e.push_back(r.e2e_s * 1000);
    if (r.usage_reported) prompt.push_back(static_cast<double>(r.prompt_tokens));
    output.push_back(static_cast<double>(r.output_tokens));
  }
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.num_ok) / duration_s;
    s.output_throughput = static_cast<double>(s.output_tokens) / duration_s;
    s.total_token_throughput = static_cast<double>(s.prompt_tokens + s.output_tokens) / duration_s;
    if (slo.any()) s.goodput = static_cast<double>(s.num_slo_met) / duration_s;
  } else if (slo.any()) {
    s.goodput = 0;
  }
  s.ttft_ms = Summarize(std::move(ttft));
  s.tpot_ms = Summarize(std::move(tpot));
  s.itl_ms = Summarize(std::move(itl));
  s.e2e_ms = Summarize(std::move(e2e));
  s.prompt_tokens_per_request = Summarize(std::move(prompt));
  s.output_tokens_per_request = Summarize(std::move(output));
  return s;
}

}  // namespace surge::bench
