#include "router/replica_set.h"

namespace surge::router {

void ReplicaSet::OnChange(ChangeFn fn) {
  absl::MutexLock lock(&mu_);
  on_change_ = std::move(fn);
}

void ReplicaSet::SetSource(const std::string& source, std::vector<ReplicaAddress> addresses) {
  std::vector<std::shared_ptr<Replica>> added, removed;
  ChangeFn on_change;
  {
    absl::MutexLock lock(&mu_);
    sources_[source] = std::move(addresses);
    std::map<std::string, ReplicaAddress> wanted;
    for (const auto& [name, list] : sources_) {
      for (const ReplicaAddress& a : list) wanted.emplace(a.ToString(), a);
    }
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      if (wanted.contains(it->first)) {
        ++it;
      } else {
        removed.push_back(it->second);
        it = replicas_.erase(it);
      }
    }
    for (const auto& [name, address] : wanted) {
      if (replicas_.contains(name)) continue;
      auto replica = std::make_shared<Replica>(address, breaker_);
      replicas_.emplace(name, replica);
      added.push_back(std::move(replica));
    }
    on_change = on_change_;
  }
  if (on_change && (!added.empty() || !removed.empty())) on_change(added, removed);
}

std::vector<std::shared_ptr<Replica>> ReplicaSet::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Replica>> out;
  out.reserve(replicas_.size());
  for (const auto& [name, replica] : replicas_) out.push_back(replica);
  return out;
}

size_t ReplicaSet::size() const {
  absl::MutexLock lock(&mu_);
  return replicas_.size();
}

}  // namespace surge::router
