#include "router/token_bucket.h"

#include <algorithm>
#include <chrono>

#include "router/text.h"

namespace surge::router {

void TokenBucket::Refill(base::TimePoint now) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * base::ToSeconds(now - last_));
    last_ = now;
  }
}

base::Duration TokenBucket::WaitFor(double cost, base::TimePoint now) {
  if (rate_ <= 0) return base::Duration::zero();  // unlimited
  Refill(now);
  const double need = std::min(cost, burst_);
  if (tokens_ >= need) return base::Duration::zero();
  return std::chrono::ceil<base::Duration>(std::chrono::duration<double>((need - tokens_) / rate_));
}

bool TokenBucket::full(base::TimePoint now) {
  Refill(now);
  return rate_ <= 0 || tokens_ >= burst_;
}

KeyRateLimiter::Buckets KeyRateLimiter::NewBuckets(base::TimePoint now) const {
  auto burst = [](double rate, double given) { return given > 0 ? given : std::max(1.0, rate); };
  return Buckets{TokenBucket(limits_.requests_per_second,
                             burst(limits_.requests_per_second, limits_.request_burst), now),
                 TokenBucket(limits_.tokens_per_second,
                             burst(limits_.tokens_per_second, limits_.token_burst), now)};
}

void KeyRateLimiter::EvictIfFull(base::TimePoint now) {
  if (keys_.size() < limits_.max_keys) return;
  // A full bucket is indistinguishable from a new one: dropping it is free.
  for (auto it = keys_.begin(); it != keys_.end();) {
    auto next = std::next(it);
    if (it->second.requests.full(now) && it->second.tokens.full(now)) keys_.erase(it);
    it = next;
  }
  // Still over (a flood of busy keys): forget an arbitrary one.
  if (keys_.size() >= limits_.max_keys) keys_.erase(keys_.begin());
}

KeyRateLimiter::Verdict KeyRateLimiter::Admit(std::string_view key, int64_t tokens,
                                              base::TimePoint now) {
  if (!enabled()) return {};
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(ToAbsl(key));
  if (it == keys_.end()) {
    EvictIfFull(now);
    it = keys_.emplace(std::string(key), NewBuckets(now)).first;
  }
  Buckets& b = it->second;
  const double cost = static_cast<double>(std::max<int64_t>(tokens, 0));
  if (base::Duration w = b.requests.WaitFor(1, now); w > base::Duration::zero()) {
    return {false, "requests", w};
  }
  if (base::Duration w = b.tokens.WaitFor(cost, now); w > base::Duration::zero()) {
    return {false, "tokens", w};
  }
  if (limits_.requests_per_second > 0) b.requests.Take(1);
  if (limits_.tokens_per_second > 0) b.tokens.Take(cost);
  return {};
}

size_t KeyRateLimiter::num_keys() const {
  absl::MutexLock lock(&mu_);
  return keys_.size();
}

}  // namespace surge::router
