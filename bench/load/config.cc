#include "bench/load/config.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "bench/load/text.h"

namespace surge::bench {
namespace {

constexpr int64_t kMaxRequests = 10'000'000;
constexpr double kMaxDurationS = 7 * 24 * 3600;
constexpr int64_t kMaxTokens = 1'000'000;
constexpr double kMaxConcurrency = 100'000;
constexpr double kMaxRate = 1'000'000;

absl::Status Bad(std::string_view flag, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(flag), ": ", std::string(what)));
}

absl::StatusOr<int64_t> ParseInt(std::string_view text, std::string_view flag) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(std::string(text), &v)) {
    return Bad(flag, absl::StrCat("'", std::string(text), "' is not an integer"));
  }
  return v;
}

absl::Status CheckRange(const IntRange& r, int64_t lo, int64_t hi, std::string_view flag) {
  if (r.min < lo || r.max > hi) {
    return Bad(flag, absl::StrCat("must be within [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckTarget(std::string_view url, bool allow_remote, std::string_view flag) {
  absl::StatusOr<TargetUrl> t = ParseTargetUrl(url);
  if (!t.ok()) return Bad(flag, std::string(t.status().message()));
  if (!allow_remote && !IsLoopbackHost(t->host)) {
    return Bad(flag, absl::StrCat("refusing to load '", t->host,
                                  "': it is not a loopback address. A load generator can "
                                  "overwhelm a machine you do not own; pass --allow-remote "
                                  "if this server is yours to load"));
  }
  return absl::OkStatus();
}

absl::Status CheckLevels(const BenchConfig& c) {
  if (c.levels.empty()) return Bad("--concurrency/--rate", "give at least one level");
  for (double v : c.levels) {
    if (c.mode == LoadMode::kConcurrency) {
      if (v < 1 || v > kMaxConcurrency || v != std::floor(v)) {
        return Bad("--concurrency",
                   absl::StrCat("levels are whole numbers in [1, ", kMaxConcurrency, "], got ", v));
      }
    } else if (!(v > 0) || v > kMaxRate) {
      return Bad("--rate", absl::StrCat("rates are in (0, ", kMaxRate, "] requests/s, got ", v));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCaps(const BenchConfig& c) {
  if (c.requests <= 0 && c.duration_s <= 0) {
    return Bad("--requests/--duration",
               "every level needs a cap: give --requests N and/or --duration S (refusing an "
               "unbounded run)");
  }
  if (c.requests < 0 || c.requests > kMaxRequests) {
    return Bad("--requests", absl::StrCat("must be within [1, ", kMaxRequests, "]"));
  }
  if (c.duration_s < 0 || c.duration_s > kMaxDurationS || std::isnan(c.duration_s)) {
    return Bad("--duration", absl::StrCat("must be within (0, ", kMaxDurationS, "] seconds"));
  }
  if (c.warmup < 0 || c.warmup > kMaxRequests) return Bad("--warmup", "out of range");
  if (c.max_inflight < 1 || c.max_inflight > 1'000'000) {
    return Bad("--max-inflight", "must be within [1, 1000000]");
  }
  if (!(c.timeout_s > 0) || c.timeout_s > kMaxDurationS) {
    return Bad("--timeout-s", "must be a positive number of seconds");
  }
  return absl::OkStatus();
}

absl::Status CheckWorkload(const BenchConfig& c) {
  SURGE_RETURN_IF_ERROR(CheckRange(c.prompt_tokens, 1, kMaxTokens, "--prompt-tokens"));
  SURGE_RETURN_IF_ERROR(CheckRange(c.max_tokens, 1, kMaxTokens, "--max-tokens"));
  if (c.shared_prefix_tokens < 0 || c.shared_prefix_tokens > kMaxTokens) {
    return Bad("--shared-prefix-tokens", absl::StrCat("must be within [0, ", kMaxTokens, "]"));
  }
  if (c.num_prefixes < 1 || c.num_prefixes > 100'000) {
    return Bad("--num-prefixes", "must be within [1, 100000]");
  }
  if (!(c.temperature >= 0) || c.temperature > 100) {
    return Bad("--temperature", "must be >= 0");
  }
  if (!(c.slo_ttft_ms >= 0) || !(c.slo_tpot_ms >= 0)) {
    return Bad("--slo-ttft-ms/--slo-tpot-ms", "must be >= 0 (0 = no bound)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IntRange> ParseIntRange(std::string_view text, std::string_view flag) {
  const std::vector<std::string_view> parts = SplitView(text, ':');
  if (parts.size() > 2) return Bad(flag, "expected N or MIN:MAX");
  SURGE_ASSIGN_OR_RETURN(int64_t lo, ParseInt(parts[0], flag));
  int64_t hi = lo;
  if (parts.size() == 2) {
    SURGE_ASSIGN_OR_RETURN(hi, ParseInt(parts[1], flag));
  }
  if (lo > hi) return Bad(flag, absl::StrCat("minimum ", lo, " is above maximum ", hi));
  return IntRange{lo, hi};
}

absl::StatusOr<std::vector<double>> ParseNumberList(std::string_view text, std::string_view flag) {
  std::vector<double> out;
  for (std::string_view part : SplitView(text, ',')) {
    double v = 0;
    if (!absl::SimpleAtod(std::string(part), &v) || !std::isfinite(v) || v <= 0) {
      return Bad(flag, absl::StrCat("'", std::string(part), "' is not a positive number"));
    }
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<TargetUrl> ParseTargetUrl(std::string_view url) {
  std::string_view rest = url;
  if (!ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(url), "' is not an http:// URL (https is not supported)"));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path != "" && path != "/" && path != "/v1" && path != "/v1/") {
    return absl::InvalidArgumentError(
        absl::StrCat("URL path '", std::string(path), "' not supported: give the server root"));
  }
  TargetUrl t;
  std::string_view port_text;
  if (ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("unclosed '[' in URL");
    t.host = std::string(authority.substr(0, close));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !ConsumePrefix(&after, ":")) {
      return absl::InvalidArgumentError("junk after ']' in URL");
    }
    port_text = after;
  } else {
    const size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty()) return absl::InvalidArgumentError("URL has no host");
  if (!port_text.empty()) {
    int port = 0;
    if (!absl::SimpleAtoi(std::string(port_text), &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad port '", std::string(port_text), "' in URL"));
    }
    t.port = static_cast<uint16_t>(port);
  }
  const bool v6 = t.host.find(':') != std::string::npos;
  t.text = absl::StrCat("http://", v6 ? "[" : "", t.host, v6 ? "]" : "", ":", t.port);
  return t;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
  const std::vector<std::string_view> octets = SplitView(host, '.');
  if (octets.size() != 4 || octets[0] != "127") return false;
  for (std::string_view o : octets) {
    int v = 0;
    if (o.empty() || o.size() > 3 || !absl::SimpleAtoi(std::string(o), &v) || v < 0 || v > 255) {
      return false;
    }
  }
  return true;
}

const char* EndpointName(Endpoint e) { return e == Endpoint::kChat ? "chat" : "completions"; }

const char* EndpointPath(Endpoint e) {
  return e == Endpoint::kChat ? "/v1/chat/completions" : "/v1/completions";
}

const char* LoadModeName(LoadMode m) { return m == LoadMode::kRate ? "rate" : "concurrency"; }

absl::Status ValidateConfig(const BenchConfig& c) {
  if (c.url.empty()) return Bad("--url", "required");
  SURGE_RETURN_IF_ERROR(CheckTarget(c.url, c.allow_remote, "--url"));
  if (!c.compare_url.empty()) {
    SURGE_RETURN_IF_ERROR(CheckTarget(c.compare_url, c.allow_remote, "--compare"));
  }
  SURGE_RETURN_IF_ERROR(CheckLevels(c));
  SURGE_RETURN_IF_ERROR(CheckCaps(c));
  return CheckWorkload(c);
}

}  // namespace surge::bench
