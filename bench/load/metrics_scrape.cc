#include "bench/load/metrics_scrape.h"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "bench/load/text.h"
#include "server/http/asio.h"
#include "server/http/client.h"

namespace surge::bench {
namespace {

namespace net = server::http::net;

// The end of a `{...}` label set starting at text[0] == '{', honouring quoted
// values with backslash escapes; npos if unterminated.
size_t LabelsEnd(std::string_view text) {
  bool quoted = false;
  for (size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '}') {
      return i;
    }
  }
  return std::string_view::npos;
}

bool ParseValue(std::string_view token, double* out) {
  if (token.empty()) return false;
  const std::string s(token);
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

std::optional<double> First(const std::map<std::string, double>& values,
                            std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (auto it = values.find(name); it != values.end()) return it->second;
  }
  return std::nullopt;
}

std::optional<double> Delta(std::optional<double> before, std::optional<double> after) {
  if (!before || !after || *after < *before) return std::nullopt;
  return *after - *before;
}

server::http::ClientRequest MetricsRequest(const TargetUrl& target, const std::string& api_key,
                                           std::chrono::milliseconds timeout) {
  server::http::ClientRequest r;
  r.host = target.host;
  r.port = target.port;
  r.target = "/metrics";
  if (!api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + api_key);
  r.connect_timeout = timeout;
  r.read_timeout = timeout;
  return r;
}

}  // namespace

std::map<std::string, double> ParsePrometheusText(std::string_view text) {
  std::map<std::string, double> out;
  for (std::string_view line : SplitView(text, '\n')) {
    line = StripSpace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t name_end = line.find_first_of("{ \t");
    if (name_end == 0 || name_end == std::string_view::npos) continue;
    std::string_view name = line.substr(0, name_end);
    std::string_view rest = line.substr(name_end);
    if (rest.front() == '{') {
      const size_t close = LabelsEnd(rest);
      if (close == std::string_view::npos) continue;
      rest = rest.substr(close + 1);
    }
    rest = StripLeadingSpace(rest);
    const std::string_view value_token = rest.substr(0, rest.find_first_of(" \t"));
    double value = 0;
    if (!ParseValue(value_token, &value)) continue;
    out[std::string(name)] += value;
  }
  return out;
}

MetricsSample ExtractSample(const std::map<std::string, double>& v) {
  MetricsSample s;
  s.cpu_seconds = First(v, {"process_cpu_seconds_total", "process_cpu_seconds"});
  s.resident_bytes = First(v, {"process_resident_memory_bytes"});
  s.prefix_queries = First(v, {"vllm:prefix_cache_queries_total", "vllm:prefix_cache_queries",
                               "vllm:gpu_prefix_cache_queries_total"});
  s.prefix_hits = First(v, {"vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits",
                            "vllm:gpu_prefix_cache_hits_total"});
  return s;
}

ResourceUse ComputeResourceUse(const MetricsSample& before, const MetricsSample& after,
                               std::optional<double> peak_resident_bytes, double wall_s) {
  ResourceUse r;
  if (std::optional<double> cpu = Delta(before.cpu_seconds, after.cpu_seconds); cpu && wall_s > 0) {
    r.cpu_cores = *cpu / wall_s;
  }
  for (std::optional<double> rss :
       {before.resident_bytes, after.resident_bytes, peak_resident_bytes}) {
    if (rss) r.peak_resident_bytes = std::max(r.peak_resident_bytes.value_or(0), *rss);
  }
  r.prefix_cache_queries = Delta(before.prefix_queries, after.prefix_queries);
  r.prefix_cache_hits = Delta(before.prefix_hits, after.prefix_hits);
  if (r.prefix_cache_queries && r.prefix_cache_hits && *r.prefix_cache_queries > 0) {
    r.prefix_cache_hit_rate = *r.prefix_cache_hits / *r.prefix_cache_queries;
  }
  return r;
}

absl::StatusOr<MetricsSample> ScrapeMetrics(const TargetUrl& target, const std::string& api_key,
                                            std::chrono::milliseconds timeout) {
  absl::StatusOr<server::http::ClientResponse> r =
      server::http::Fetch(MetricsRequest(target, api_key, timeout));
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return absl::NotFoundError(absl::StrCat("GET /metrics answered ", r->status));
  }
  MetricsSample s = ExtractSample(ParsePrometheusText(r->body));
  if (!s.cpu_seconds && !s.resident_bytes && !s.prefix_queries) {
    return absl::NotFoundError("/metrics has none of the process_* or prefix-cache series");
  }
  return s;
}

struct ResidentMemorySampler::State : std::enable_shared_from_this<State> {
  State(net::io_context& ioc, server::http::HttpClient& c, TargetUrl t, std::string key,
        std::chrono::milliseconds p)
      : timer(ioc), client(c), target(std::move(t)), api_key(std::move(key)), period(p) {}

  void Arm() {
    timer.expires_after(period);
    timer.async_wait([self = shared_from_this()](const server::http::error_code& ec) {
      if (!ec && !self->stopped) self->Scrape();
    });
  }

  void Scrape() {
    auto body = std::make_shared<std::string>();
    auto status = std::make_shared<int>(0);
    call = client.Request(
        MetricsRequest(target, api_key, period * 4),
        {.on_status_headers = [status](int s, const server::http::Headers&) { *status = s; },
         .on_body_chunk = [body](std::string_view chunk) { body->append(chunk); },
         .on_done =
             [self = shared_from_this(), body, status](absl::Status done) {
               self->call.reset();
               if (done.ok() && *status == 200) {
                 const MetricsSample s = ExtractSample(ParsePrometheusText(*body));
                 if (s.resident_bytes)
                   self->peak = std::max(self->peak.value_or(0), *s.resident_bytes);
               }
               if (!self->stopped) self->Arm();
             }});
  }

  net::steady_timer timer;
  server::http::HttpClient& client;
  const TargetUrl target;
  const std::string api_key;
  const std::chrono::milliseconds period;
  std::shared_ptr<server::http::ClientCall> call;
  std::optional<double> peak;
  bool stopped = false;
};

ResidentMemorySampler::ResidentMemorySampler(net::io_context& ioc, server::http::HttpClient& client,
                                             TargetUrl target, std::string api_key,
                                             std::chrono::milliseconds period)
    : state_(std::make_shared<State>(ioc, client, std::move(target), std::move(api_key), period)) {}

ResidentMemorySampler::~ResidentMemorySampler() { Stop(); }

void ResidentMemorySampler::Start() { state_->Scrape(); }

void ResidentMemorySampler::Stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  state_->timer.cancel();
  if (state_->call) state_->call->Cancel();
}

std::optional<double> ResidentMemorySampler::peak_resident_bytes() const { return state_->peak; }

}  // namespace surge::bench
