// SessionTable keeps a conversation's KV cache warm between its turns. When
// a turn of session (tenant, id) finishes, the table pins the sequence's
// full cached blocks (prompt and reply), replacing the session's previous
// pin; the next turn's prompt starts with the same tokens, so the prefix
// cache finds them and only the new message is prefilled. Pinned blocks
// cannot be evicted by other traffic, unlike plain prefix-cache entries.
//
// Model: a session is keyed by (tenant salt, id): another tenant using the
// same id gets its own session and can never reach this one's blocks.
// Limits: at most `max_tokens` pinned per session (its leading tokens) and
// at most `max_pool_fraction` of the KV blocks pinned by all sessions
// together; past that the least recently used sessions are dropped. A
// session unused for `ttl` expires. Dropped and expired sessions release
// their blocks; blocks no one else holds are wiped (zeroed) and forgotten.
// Preloaded prompts (Preload) are pinned the same way but never expire.
// Persistence: with a directory, sessions changed since their last save are
// written on SaveDirty() (the engine calls it when idle and at shutdown),
// one file per session (session_file.h), and LoadAll() restores them at
// start. A file that is corrupt or belongs to another model is skipped with
// an error log naming it; it never stops the engine.
// Ownership: borrows the KV manager and the KV memory (both the engine
// loop's).
// Thread safety: confined to the engine loop.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/clock.h"
#include "base/ids.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_cache_manager.h"

namespace surge::engine {

struct SessionConfig {
  base::Duration ttl = std::chrono::minutes(30);
  int64_t max_tokens = 8192;       // pinned per session
  double max_pool_fraction = 0.5;  // of all KV blocks, over all sessions
  std::string dir;                 // "" : sessions live in memory only
};

struct SessionStats {
  int32_t num_sessions = 0;
  int32_t num_pinned_blocks = 0;
  int64_t num_expired = 0;
  int64_t num_restored = 0;
};

class SessionTable {
 public:
  SessionTable(SessionConfig config, kv::KvCacheManager& kv, kv::KvCache& cache,
               uint64_t model_fingerprint, int32_t n_vocab);

  // A turn of the session finished as sequence `seq` with `tokens` (prompt
  // and generated, from position 0). Call before the sequence is freed.
  void Update(uint64_t salt, const std::string& id, base::SequenceId seq,
              std::span<const int32_t> tokens, base::TimePoint now);
  // Pins a computed prompt for good (a preloaded system prompt).
  void Preload(base::SequenceId seq, std::span<const int32_t> tokens);
  // Drops sessions past their TTL.
  void Expire(base::TimePoint now);

  void SaveDirty();
  void LoadAll(base::TimePoint now);

  SessionStats stats() const;

 private:
  struct Session {
    uint64_t salt = 0;
    std::string id;
    kv::PinnedPrefix pin;
    base::TimePoint last_used;
    bool dirty = false;
    bool permanent = false;
  };
  struct Key {
    uint64_t salt;
    std::string id;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.salt, k.id);
    }
  };

  void Drop(const Key& key);
  void EnforceBudget(const Key& keep);
  std::string PathOf(const Key& key) const;
  int32_t max_pinned_blocks() const;

  SessionConfig config_;
  kv::KvCacheManager& kv_;
  kv::KvCache& cache_;
  const uint64_t fingerprint_;
  const int32_t n_vocab_;
  absl::flat_hash_map<Key, Session> sessions_;
  int32_t num_pinned_blocks_ = 0;
  int64_t num_expired_ = 0;
  int64_t num_restored_ = 0;
  int32_t num_preloaded_ = 0;
};

}  // namespace surge::engine
