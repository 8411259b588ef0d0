// BlockPool hands out the KV blocks of one model by id, counts references so
// several sequences can share a block (n > 1 sharing a prompt, the prefix
// cache), and remembers which blocks hold a full, hashed block of tokens, so a
// later sequence with the same prefix can reuse them instead of recomputing.
//
// Model: num_blocks() blocks; a block is in use (ref_count > 0) or free. Free
// blocks wait in one LRU list (least recently freed first); a free block may
// still be cached, i.e. findable by FindCached(). Allocate(n) is
// all-or-nothing and takes the n least recently freed blocks, evicting the
// cached content they hold.
// Eviction choice: pure LRU. Allocate() does not look for never-cached free
// blocks first: nearly every freed block is a full, cached one (a sequence has
// at most one partial block), so a search would buy little and cost O(n); and
// LRU keeps the rule simple to state and to test. Callers free a sequence's
// blocks last-to-first so its deepest blocks (least likely to be shared) are
// evicted before the prefix they hang from.
//
// Cache identity: a cached block has a PrefixId, never reused, that names the
// exact prefix it completes: its salt, its tokens and (through `parent`, the
// PrefixId of the block before it) every token before them. FindCached()
// compares hash, salt, parent and tokens, so a 64-bit hash collision is a miss,
// never another sequence's KV. When a block is evicted its PrefixId dies, and
// blocks cached after it become unreachable (they are evicted in turn).
//
// Ownership: callers hold block ids; each reference from Allocate(), Share()
// or Acquire() is given back by exactly one Release().
// Thread safety: confined to the engine loop.
// Errors: a full pool is normal: Allocate() returns std::nullopt and the
// caller waits or preempts. Releasing a free block, sharing a free block or
// caching a block not in use is a bug (CHECK).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace surge::engine::kv {

// Names one exact cached prefix (see the class comment).
using PrefixId = uint64_t;
inline constexpr PrefixId kRootPrefix = 0;           // the empty prefix: parent of a first block
inline constexpr PrefixId kNoPrefix = ~PrefixId{0};  // not cached / chain broken

// What identifies the content of a full block.
struct BlockKey {
  uint64_t hash = 0;                // HashBlockTokens(parent hash, salt, tokens)
  uint64_t salt = 0;                // tenant
  PrefixId parent = kRootPrefix;    // the cached block before this one
  std::span<const int32_t> tokens;  // exactly block_size() tokens
};

struct CachedBlock {
  int32_t block = -1;
  PrefixId prefix = kNoPrefix;
};

class BlockPool {
 public:
  explicit BlockPool(int32_t num_blocks, int32_t block_size = 16);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  // Free blocks, cached or not: all of them can be allocated.
  int32_t num_free_blocks() const { return num_free_; }
  int32_t ref_count(int32_t block) const { return meta_[block].ref_count; }
  // Blocks (in use or free) findable by FindCached().
  int32_t num_cached_blocks() const { return static_cast<int32_t>(cached_.size()); }
  // Cached blocks whose content was dropped to make room.
  int64_t num_evictions() const { return num_evictions_; }
  // kNoPrefix when the block is not cached.
  PrefixId prefix_id(int32_t block) const { return meta_[block].prefix; }

  // n blocks with ref_count 1, taken from the LRU end of the free list.
  std::optional<std::vector<int32_t>> Allocate(int32_t n);
  // Same, appending to `out`; false (and `out` untouched) when n > free.
  bool AllocateInto(int32_t n, std::vector<int32_t>& out);
  // Adds a reference to a block in use.
  void Share(int32_t block);
  // Drops one reference per id; a block whose count reaches 0 joins the most
  // recently used end of the free list (keeping its cached content).
  void Release(std::span<const int32_t> blocks);

  // The cached block whose content equals `key` exactly, if any.
  std::optional<CachedBlock> FindCached(const BlockKey& key) const;
  // Adds a reference to a cached block, in use or free (a cache hit); a free
  // block leaves the free list.
  void Acquire(int32_t block);
  // Makes a full block in use findable under `key` and returns the PrefixId
  // that now names this content: the block's new id, or the id of another
  // block that already holds the same content (this one then stays
  // uncached), or kNoPrefix when a different block in use holds the same
  // hash (a collision: the content is simply not cached).
  PrefixId Cache(int32_t block, const BlockKey& key);
  // Forgets the content of a free block: it stops being findable and goes
  // to the least recently used end of the free list, so the next Allocate()
  // takes it. The caller then owns wiping its KV memory (expired sessions).
  void Scrub(int32_t block);

 private:
  struct Meta {
    int32_t ref_count = 0;
    int32_t prev = -1;  // free-list links; the sentinel is index num_blocks_
    int32_t next = -1;
    uint64_t hash = 0;
    uint64_t salt = 0;
    PrefixId parent = kRootPrefix;
    PrefixId prefix = kNoPrefix;
  };

  bool Matches(int32_t block, const BlockKey& key) const;
  std::span<const int32_t> tokens_of(int32_t block) const;
  void PushFreeBack(int32_t block);
  void Unlink(int32_t block);
  int32_t TakeLeastRecentlyUsed();

  int32_t num_blocks_;
  int32_t block_size_;
  int32_t num_free_ = 0;
  int64_t num_evictions_ = 0;
  PrefixId next_prefix_ = kRootPrefix + 1;
  std::vector<Meta> meta_;       // num_blocks_ + 1 entries, the last a sentinel
  std::vector<int32_t> tokens_;  // block_size_ per block: content of cached blocks
  absl::flat_hash_map<uint64_t, int32_t> cached_;  // hash -> block
};

}  // namespace surge::engine::kv
