// Token buckets: per-key rate limits on requests and on tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"

namespace surge::router {

// A bucket of `burst` tokens refilled at `rate` per second. Taking more than
// is present fails with the wait until enough has refilled. A cost larger
// than the burst is allowed once the bucket is full and leaves it in debt,
// so an oversized request is slowed, never refused forever.
//
// Thread safety: none (KeyRateLimiter locks around it).
class TokenBucket {
 public:
  TokenBucket(double rate, double burst, base::TimePoint now)
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  // How long until `cost` could be taken (zero: now).
  base::Duration WaitFor(double cost, base::TimePoint now);
  void Take(double cost) { tokens_ -= cost; }
  bool full(base::TimePoint now);

 private:
  void Refill(base::TimePoint now);

  double rate_;
  double burst_;
  double tokens_;
  base::TimePoint last_;
};

struct RateLimits {
  double requests_per_second = 0;  // 0: no request limit
  double request_burst = 0;        // 0: one second's worth (at least 1)
  double tokens_per_second = 0;    // 0: no token limit
  double token_burst = 0;          // 0: one second's worth
  size_t max_keys = 100000;        // keys tracked at most (full buckets are dropped first)
};

// Per-key (tenant) limits: one request bucket and one token bucket per key.
// A request passes only if both buckets can pay; then both are charged.
//
// Thread safety: thread-safe.
class KeyRateLimiter {
 public:
  struct Verdict {
    bool allowed = true;
    const char* limit = "";  // "requests" or "tokens" when refused
    base::Duration retry_after{};
  };

  explicit KeyRateLimiter(RateLimits limits) : limits_(limits) {}
  bool enabled() const { return limits_.requests_per_second > 0 || limits_.tokens_per_second > 0; }

  Verdict Admit(std::string_view key, int64_t tokens, base::TimePoint now);
  size_t num_keys() const;

 private:
  struct Buckets {
    TokenBucket requests;
    TokenBucket tokens;
  };
  Buckets NewBuckets(base::TimePoint now) const;
  void EvictIfFull(base::TimePoint now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RateLimits limits_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Buckets> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::router
