// Replica: one upstream server behind the router, with its health, load and
// the models it serves.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "router/circuit_breaker.h"

namespace surge::router {

// Where a replica listens. Only plain HTTP: TLS, if any, ends in front.
struct ReplicaAddress {
  std::string host;  // IP address or DNS name, without brackets
  uint16_t port = 80;

  // "host:port" ("[v6]:port"): the replica's name in metrics, logs and
  // headers.
  std::string ToString() const;
  bool operator==(const ReplicaAddress&) const = default;
  auto operator<=>(const ReplicaAddress&) const = default;
};

// Accepts "http://host:port", "http://host" (port 80), "host:port" and
// "[v6addr]:port", with an optional trailing '/'. Anything else (https, a
// path, a bad port) is InvalidArgument with a message naming the input.
absl::StatusOr<ReplicaAddress> ParseReplicaUrl(std::string_view url);

// One model a replica serves, as its /v1/models listed it.
struct ModelEntry {
  std::string id;
  std::string json;  // the model object as the replica wrote it
};

// A replica as the router sees it. Live traffic goes to a replica only when
// routable(): its breaker is closed, it is not backing off after a
// Retry-After, and its model list has been read (or could not be read, in
// which case it is assumed to serve every model).
//
// Ownership: shared (std::shared_ptr) between the ReplicaSet and the calls
// in flight, so a replica dropped by discovery lives until its last call ends.
// Thread safety: thread-safe; health state under a mutex, load counters
// atomic.
class Replica {
 public:
  Replica(ReplicaAddress address, BreakerOptions breaker);

  const ReplicaAddress& address() const { return address_; }
  const std::string& name() const { return name_; }

  // Requests the router has in flight to this replica.
  int64_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }
  void BeginRequest() { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void EndRequest() { outstanding_.fetch_sub(1, std::memory_order_relaxed); }

  bool routable(base::TimePoint now) const;
  BreakerState breaker_state(base::TimePoint now) const;
  // Outcomes of live requests and health checks. RecordFailure() and Eject()
  // return true when the replica just left rotation; RecordSuccess() returns
  // true when it just came back.
  bool RecordSuccess(base::TimePoint now);
  bool RecordFailure(base::TimePoint now);
  bool Eject(base::TimePoint now);
  // The replica asked callers to wait (429/503 with Retry-After): no new
  // requests until `until`, without counting as a failure.
  void BackOffUntil(base::TimePoint until);

  // Models read from its /v1/models; std::nullopt = unknown (serves all).
  void SetModels(std::optional<std::vector<ModelEntry>> models);
  bool models_known() const;
  bool models_read() const;  // SetModels() was called at least once
  std::vector<ModelEntry> models() const;
  // True if the replica serves `model` (or its models are unknown, or
  // `model` is empty: the replica picks its default).
  bool ServesModel(std::string_view model) const;

 private:
  const ReplicaAddress address_;
  const std::string name_;
  std::atomic<int64_t> outstanding_{0};
  mutable absl::Mutex mu_;
  CircuitBreaker breaker_ ABSL_GUARDED_BY(mu_);
  base::TimePoint backoff_until_ ABSL_GUARDED_BY(mu_){};
  bool models_read_ ABSL_GUARDED_BY(mu_) = false;  // SetModels() was called once
  std::optional<std::vector<ModelEntry>> models_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::router
