// HealthChecker: active health checks of every replica (/health) and the
// model list each serves (/v1/models).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "base/clock.h"
#include "router/replica.h"
#include "router/replica_set.h"
#include "server/http/client.h"

namespace surge::router {

struct HealthOptions {
  base::Duration interval = std::chrono::seconds(2);
  base::Duration timeout = std::chrono::seconds(1);
  int models_every = 5;          // re-read /v1/models every this many healthy checks
  std::string upstream_api_key;  // sent as a Bearer token when reading /v1/models
};

// Replica left or re-entered rotation; the router counts it, logs it and
// lets the policy forget the replica's cache.
struct HealthEvents {
  std::function<void(const std::shared_ptr<Replica>&)> ejected;
  std::function<void(const std::shared_ptr<Replica>&)> returned;
};

// Model: every interval, each replica that is closed or half-open (ejection
// over) gets GET /health, at most one check in flight per replica:
//   200  -> (the model list when due, or when never read) -> success
//   503  -> ejected at once (the replica is draining)
//   else -> a failure (connection refused, timeout, other status)
// A half-open replica returns to rotation on its first success. Passive
// outcomes of live traffic feed the same breakers (see Replica).
//
// Thread safety: everything runs on the io_context given at construction,
// which must be single-threaded; CheckNow() may be called from any thread.
class HealthChecker {
 public:
  HealthChecker(boost::asio::io_context& ioc, ReplicaSet& replicas, const base::Clock& clock,
                HealthOptions options, HealthEvents events);

  // One round over every replica.
  void Round();
  // Checks `replica` soon, e.g. just after discovery added it.
  void CheckNow(std::shared_ptr<Replica> replica);

 private:
  void Check(const std::shared_ptr<Replica>& replica);
  void OnHealth(const std::shared_ptr<Replica>& replica, int status, const absl::Status& done);
  void FetchModels(const std::shared_ptr<Replica>& replica);
  void Passed(const std::shared_ptr<Replica>& replica);
  void Failed(const std::shared_ptr<Replica>& replica, bool draining);
  server::http::ClientRequest NewRequest(const Replica& replica, std::string target) const;

  boost::asio::io_context& ioc_;
  server::http::HttpClient client_;
  ReplicaSet& replicas_;
  const base::Clock& clock_;
  const HealthOptions options_;
  const HealthEvents events_;
  // io_context thread only.
  absl::flat_hash_set<std::string> in_flight_;
  absl::flat_hash_map<std::string, int> checks_since_models_;
};

// The models of a /v1/models body ({"data":[{"id":...},...]}), or
// std::nullopt when it is not one.
std::optional<std::vector<ModelEntry>> ParseModelList(std::string_view body);

}  // namespace surge::router
