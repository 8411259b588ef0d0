#include "router/replica.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "router/text.h"

namespace surge::router {
namespace {

absl::Status BadUrl(std::string_view url, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad replica address '", std::string(url), "': ",
                                                 std::string(why), " (expected http://host:port)"));
}

}  // namespace

std::string ReplicaAddress::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

absl::StatusOr<ReplicaAddress> ParseReplicaUrl(std::string_view url) {
  std::string_view rest = StripWhitespace(url);
  if (StartsWithNoCase(rest, "https://")) {
    return BadUrl(url, "https is not supported; terminate TLS in front of the replicas");
  }
  if (StartsWithNoCase(rest, "http://")) rest.remove_prefix(7);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return BadUrl(url, "no host");
  if (rest.find('/') != std::string_view::npos) return BadUrl(url, "a path is not allowed");
  ReplicaAddress a;
  std::string_view port_text;
  if (rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "unclosed '['");
    a.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl(url, "junk after ']'");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find(':') != colon) {
      return BadUrl(url, "an IPv6 address needs brackets");
    }
    a.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (a.host.empty()) return BadUrl(url, "no host");
  if (port_text.data() != nullptr) {
    uint32_t port = 0;
    if (!ParseUint(port_text, &port) || port == 0 || port > 65535) {
      return BadUrl(url, "the port must be 1-65535");
    }
    a.port = static_cast<uint16_t>(port);
  }
  return a;
}

Replica::Replica(ReplicaAddress address, BreakerOptions breaker)
    : address_(std::move(address)), name_(address_.ToString()), breaker_(breaker) {}

bool Replica::routable(base::TimePoint now) const {
  absl::MutexLock lock(&mu_);
  return models_read_ && now >= backoff_until_ && breaker_.AllowsTraffic(now);
}

BreakerState Replica::breaker_state(base::TimePoint now) const {
  absl::MutexLock lock(&mu_);
  return breaker_.state(now);
}

bool Replica::RecordSuccess(base::TimePoint now) {
  absl::MutexLock lock(&mu_);
  return breaker_.OnSuccess(now);
}

bool Replica::RecordFailure(base::TimePoint now) {
  absl::MutexLock lock(&mu_);
  return breaker_.OnFailure(now);
}

bool Replica::Eject(base::TimePoint now) {
  absl::MutexLock lock(&mu_);
  return breaker_.Trip(now);
}

void Replica::BackOffUntil(base::TimePoint until) {
  absl::MutexLock lock(&mu_);
  backoff_until_ = std::max(backoff_until_, until);
}

void Replica::SetModels(std::optional<std::vector<ModelEntry>> models) {
  absl::MutexLock lock(&mu_);
  models_read_ = true;
  models_ = std::move(models);
}

bool Replica::models_known() const {
  absl::MutexLock lock(&mu_);
  return models_.has_value();
}

bool Replica::models_read() const {
  absl::MutexLock lock(&mu_);
  return models_read_;
}

std::vector<ModelEntry> Replica::models() const {
  absl::MutexLock lock(&mu_);
  return models_.value_or(std::vector<ModelEntry>{});
}

bool Replica::ServesModel(std::string_view model) const {
  if (model.empty()) return true;
  absl::MutexLock lock(&mu_);
  if (!models_) return true;
  return std::any_of(models_->begin(), models_->end(),
                     [&](const ModelEntry& m) { return m.id == model; });
}

}  // namespace surge::router
