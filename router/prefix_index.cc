#include "router/prefix_index.h"

#include "router/text.h"

namespace surge::router {

std::vector<size_t> PrefixIndex::MatchLengths(std::span<const Candidate> candidates,
                                              std::span<const uint64_t> chain) const {
  std::vector<size_t> out(candidates.size(), 0);
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < candidates.size(); ++i) {
    auto it = replicas_.find(ToAbsl(candidates[i].name));
    if (it == replicas_.end()) continue;
    const Lru& lru = *it->second;
    size_t n = 0;
    while (n < chain.size() && lru.where.contains(chain[n])) ++n;
    out[i] = n;
  }
  return out;
}

void PrefixIndex::Record(std::string_view replica, std::span<const uint64_t> chain) {
  if (chain.empty() || capacity_ == 0) return;
  absl::MutexLock lock(&mu_);
  auto found = replicas_.find(ToAbsl(replica));
  if (found == replicas_.end()) {
    found = replicas_.emplace(std::string(replica), std::make_unique<Lru>()).first;
  }
  Lru& lru = *found->second;
  for (auto h = chain.rbegin(); h != chain.rend(); ++h) {
    auto it = lru.where.find(*h);
    if (it != lru.where.end()) {
      lru.order.splice(lru.order.begin(), lru.order, it->second);
      continue;
    }
    lru.order.push_front(*h);
    lru.where.emplace(*h, lru.order.begin());
  }
  while (lru.order.size() > capacity_) {
    lru.where.erase(lru.order.back());
    lru.order.pop_back();
  }
}

void PrefixIndex::Forget(std::string_view replica) {
  absl::MutexLock lock(&mu_);
  if (auto it = replicas_.find(ToAbsl(replica)); it != replicas_.end()) replicas_.erase(it);
}

size_t PrefixIndex::num_blocks(std::string_view replica) const {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(ToAbsl(replica));
  return it == replicas_.end() ? 0 : it->second->order.size();
}

}  // namespace surge::router
