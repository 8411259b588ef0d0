// RouterOptions and RouterContext: the router's settings and the state every
// request in flight shares.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "router/circuit_breaker.h"
#include "router/concurrency_limiter.h"
#include "router/discovery.h"
#include "router/health_checker.h"
#include "router/policy.h"
#include "router/replica_set.h"
#include "router/request_info.h"
#include "router/retry_budget.h"
#include "router/router_metrics.h"
#include "router/token_bucket.h"
#include "server/http/client.h"
#include "server/http/server.h"

namespace surge::router {

struct ProxyOptions {
  std::chrono::milliseconds connect_timeout{1000};
  // Longest silence from a replica while waiting for (more of) its answer.
  std::chrono::milliseconds upstream_timeout{600000};
  int max_attempts = 3;                  // first attempt + retries, each to another replica
  size_t max_response_bytes = 64 << 20;  // a non-streamed answer is buffered up to this
  size_t max_pending_bytes = 8 << 20;    // unsent bytes to a client that stopped reading
  std::string upstream_api_key;          // replaces the client's Authorization upstream
  int64_t default_max_tokens = 256;      // token estimate when a request names none
  base::Duration max_retry_after = std::chrono::seconds(60);
};

struct RouterOptions {
  server::http::ServerOptions http;
  std::vector<std::string> api_keys;  // accepted from clients; empty: open
  std::string policy = "prefix";
  PrefixOptions prefix;
  PrefixPolicyOptions prefix_policy;
  BreakerOptions breaker;
  HealthOptions health;
  DiscoveryOptions discovery;
  RetryBudgetOptions retry_budget;
  RateLimits rate_limits;
  ConcurrencyOptions concurrency;
  ProxyOptions proxy;
};

// Shared (std::shared_ptr) by the Router and every ProxyCall, so a call that
// outlives the Router object still has what it needs.
//
// Thread safety: every member is thread-safe; options are immutable.
class RouterContext {
 public:
  RouterContext(RouterOptions options, const base::Clock& clock, std::unique_ptr<Policy> policy,
                boost::asio::io_context& proxy_ioc);

  const RouterOptions& options() const { return options_; }
  const base::Clock& clock() const { return clock_; }
  ReplicaSet& replicas() { return replicas_; }
  Policy& policy() { return *policy_; }
  RetryBudget& retry_budget() { return retry_budget_; }
  KeyRateLimiter& rate_limiter() { return rate_limiter_; }
  ConcurrencyLimiter& limiter() { return limiter_; }
  RouterMetrics& metrics() { return metrics_; }
  server::http::HttpClient& client() { return client_; }
  std::atomic<int64_t>& in_flight() { return in_flight_; }
  uint64_t NextId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  // Replicas that may take a request for `model`, ordered by name, without
  // those named in `tried`.
  std::vector<std::shared_ptr<Replica>> Eligible(std::string_view model,
                                                 const std::vector<std::string>& tried) const;
  // Whether any replica at all (in rotation or not) lists `model`.
  bool AnyReplicaServes(std::string_view model) const;

  // Passive health: the outcome of a live request.
  void ReportSuccess(const std::shared_ptr<Replica>& replica);
  void ReportFailure(const std::shared_ptr<Replica>& replica);
  // Events from the health checker and ReportFailure().
  void OnEjected(const std::shared_ptr<Replica>& replica);
  void OnReturned(const std::shared_ptr<Replica>& replica);

 private:
  const RouterOptions options_;
  const base::Clock& clock_;
  ReplicaSet replicas_;
  std::unique_ptr<Policy> policy_;
  RetryBudget retry_budget_;
  KeyRateLimiter rate_limiter_;
  ConcurrencyLimiter limiter_;
  RouterMetrics metrics_;
  server::http::HttpClient client_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace surge::router
