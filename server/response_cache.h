// ResponseCache: finished responses of deterministic requests, replayed
// instead of recomputed when the same request comes again.
//
// What is cached: a request is deterministic when its temperature is 0
// (greedy) or it carries a seed. Its key is a canonical serialization of
// everything that decides the output: the endpoint, the model name and its
// file, the tenant, every sampling field (max_tokens, temperature, top_p, top_k,
// min_p, penalties, n, stop, seed, ignore_eos, logprobs, top_logprobs) and
// the prompt (text or token ids; chat messages with roles, names and
// add_generation_prompt). Fields that only shape the transport (stream,
// stream_options, user, priority, keep_alive) are not part of it, so a
// streamed request is answered from a cached non-streamed one and the other
// way round: the entry is the sequence of deltas the engine produced, which
// the server writes as SSE chunks or folds into one JSON body.
//
// Why replaying is exact: the engine is batch invariant (a sequence's logits
// are bitwise the same whatever shares its batch) and sampling is a pure
// function of the logits and the seed, so a recomputation would produce the
// very same tokens, text and logprobs.
//
// Model: LRU bounded in bytes (keys, texts, logprobs and a fixed overhead
// per entry); an entry larger than the whole budget is not kept. The key is
// stored whole and compared exactly: no false hits. max_bytes 0: disabled.
// Thread safety: thread-safe (one mutex; lookups copy a shared_ptr).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/openai/protocol.h"

namespace surge::server {

// A finished response as the engine produced it.
struct CachedResponse {
  std::vector<openai::Choice> deltas;  // in order; index, text, finish, logprobs
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
};

// The cache key of a request, or nullopt when the request is not
// deterministic. `tenant` is the tenant's name; `model_file` the file the
// model name points at (a deploy that swaps it makes old entries unreachable).
std::optional<std::string> ResponseCacheKey(const openai::CompletionRequest& request,
                                            std::string_view tenant, std::string_view model_file);
std::optional<std::string> ResponseCacheKey(const openai::ChatRequest& request,
                                            std::string_view tenant, std::string_view model_file);

class ResponseCache {
 public:
  explicit ResponseCache(int64_t max_bytes) : max_bytes_(max_bytes) {}

  bool enabled() const { return max_bytes_ > 0; }
  // The entry for `key` (now the most recently used), or null (a miss).
  std::shared_ptr<const CachedResponse> Lookup(const std::string& key);
  // Keeps the response, evicting the least recently used entries to fit. A
  // key already present is refreshed, not duplicated.
  void Insert(const std::string& key, std::shared_ptr<const CachedResponse> response);

  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    int64_t insertions = 0;
    int64_t evictions = 0;
    int64_t bytes = 0;
    int64_t entries = 0;
    int64_t max_bytes = 0;
  };
  Stats stats() const;

  // The bytes an entry is charged: key, texts, logprobs, overhead.
  static int64_t EntryBytes(const std::string& key, const CachedResponse& response);

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedResponse> response;
    int64_t bytes = 0;
  };
  void EvictToFit(int64_t incoming) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_bytes_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recent first
  // Keys point into the list nodes (stable addresses).
  absl::flat_hash_map<std::string_view, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::server
