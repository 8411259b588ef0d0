// Routing policies: which of the eligible replicas gets a request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace surge::router {

// A replica that may take the request (healthy, serves the model, not yet
// tried by this request), with the router's count of its requests in flight.
struct Candidate {
  std::string_view name;  // the replica's "host:port"
  int64_t outstanding = 0;
};

struct RouteDecision {
  size_t index = 0;  // into the candidates
  // For the routing-decision metric: "round_robin", "least_load", "p2c",
  // "prefix_hit", "prefix_new", "prefix_spill", "no_prefix".
  std::string_view reason;
};

// Options of the prefix-affinity policy.
struct PrefixPolicyOptions {
  // Load bound: a replica is skipped when its outstanding requests exceed
  // (1 + load_factor) * mean + load_slack (mean over the candidates).
  double load_factor = 0.25;
  double load_slack = 1.0;
  size_t blocks_per_replica = 64 * 1024;  // block hashes remembered per replica (LRU)
};

// Picks one candidate for a request. `prefix_hashes` is the request's hash
// chain (RequestInfo::prefix_hashes); only prefix affinity looks at it.
//
// Thread safety: implementations are thread-safe (the router calls them from
// every I/O thread).
class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;

  // `candidates` is non-empty and ordered by name.
  virtual RouteDecision Pick(std::span<const uint64_t> prefix_hashes,
                             std::span<const Candidate> candidates) = 0;
  // The request went to `replica` (called once per attempt).
  virtual void OnRouted(std::span<const uint64_t> /*prefix_hashes*/, std::string_view /*replica*/) {
  }
  // The replica's cache is gone or it left the set: drop what was learned.
  virtual void Forget(std::string_view /*replica*/) {}
};

std::unique_ptr<Policy> MakeRoundRobinPolicy();
std::unique_ptr<Policy> MakeLeastLoadPolicy();
std::unique_ptr<Policy> MakePowerOfTwoPolicy(uint64_t seed);
std::unique_ptr<Policy> MakePrefixPolicy(PrefixPolicyOptions options);

// By name: "prefix", "least-load", "p2c", "round-robin". InvalidArgument for
// any other name.
absl::StatusOr<std::unique_ptr<Policy>> MakePolicy(std::string_view name,
                                                   const PrefixPolicyOptions& prefix);

}  // namespace surge::router
