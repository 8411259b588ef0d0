// ReplicaSet: the replicas the router currently knows, merged from every
// discovery source (flags, a replicas file, DNS).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "router/replica.h"

namespace surge::router {

// Model: each source (a name such as "flags", "file", "dns") owns a list of
// addresses; the set is their union. Replacing a source's list adds the
// replicas no source had and drops those no source has any more; a replica
// present before and after keeps its object, so its health and load survive
// a reload. New replicas start half-open (out of rotation until their first
// successful health check).
//
// Ownership: holds Replicas by shared_ptr; Snapshot() hands out references
// that stay valid after the replica is dropped.
// Thread safety: thread-safe.
class ReplicaSet {
 public:
  // Called (outside the lock) with the replicas added and removed by a
  // SetSource(); e.g. to probe new replicas at once and forget old ones.
  using ChangeFn = std::function<void(const std::vector<std::shared_ptr<Replica>>& added,
                                      const std::vector<std::shared_ptr<Replica>>& removed)>;

  explicit ReplicaSet(BreakerOptions breaker) : breaker_(breaker) {}

  void OnChange(ChangeFn fn);
  void SetSource(const std::string& source, std::vector<ReplicaAddress> addresses);

  // Every replica, ordered by name (a stable order for the policies).
  std::vector<std::shared_ptr<Replica>> Snapshot() const;
  size_t size() const;

 private:
  const BreakerOptions breaker_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<ReplicaAddress>> sources_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Replica>> replicas_ ABSL_GUARDED_BY(mu_);  // by name
  ChangeFn on_change_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::router
