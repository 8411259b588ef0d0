// PrefixIndex: which prompt prefixes the router recently sent to which
// replica, as an approximation of what each replica holds in its KV cache.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "router/policy.h"

namespace surge::router {

// Model: per replica, an LRU set of block hashes (RequestInfo's hash chain)
// of at most `blocks_per_replica` entries. A chain is recorded deepest block
// first, so a prefix's root blocks are the freshest and leave last; a match
// is the number of leading hashes of a chain the replica holds. The index
// never asks the replicas: it is exactly as wrong as the replicas' own
// eviction makes it, which costs a cache miss, never a wrong answer.
//
// Thread safety: thread-safe (one mutex; operations are short).
class PrefixIndex {
 public:
  explicit PrefixIndex(size_t blocks_per_replica) : capacity_(blocks_per_replica) {}

  // Leading hashes of `chain` held by each candidate, in candidate order.
  std::vector<size_t> MatchLengths(std::span<const Candidate> candidates,
                                   std::span<const uint64_t> chain) const;
  void Record(std::string_view replica, std::span<const uint64_t> chain);
  void Forget(std::string_view replica);
  size_t num_blocks(std::string_view replica) const;

 private:
  // One replica's LRU: most recent at the front of `order`.
  struct Lru {
    std::list<uint64_t> order;
    absl::flat_hash_map<uint64_t, std::list<uint64_t>::iterator> where;
  };

  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Lru>> replicas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::router
