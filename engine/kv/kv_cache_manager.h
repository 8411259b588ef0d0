// KvCacheManager gives every sequence a block table over one BlockPool and
// runs the prefix cache: a full block of a sequence's tokens is keyed by a
// hash chain over (parent block, tokens, salt), and a later sequence whose
// tokens start with the same full blocks, under the same salt, maps them into
// its table instead of recomputing them. This is the whole interface the
// scheduler sees of the KV cache.
//
// Model: a sequence's table maps position p to block table[p / block_size()],
// slot p % block_size(). Blocks covering computed positions before the last
// full block boundary may be shared (ref counts); a sequence writes only
// positions past its shared blocks, so shared blocks are read-only.
// Lifecycle of a sequence: FindCachedPrefix() -> Allocate() (first blocks,
// taking references on the prefix) -> after each step CommitFullBlocks() and
// Extend() as it grows -> Free(). Fork() starts a second sequence that shares
// the first one's full blocks (n > 1 sampling).
// Isolation: a prefix block is reused only when its salt, its tokens and its
// whole chain of parents are equal (not just the 64-bit hash); see BlockPool.
// Ownership: owns the BlockPool; the KV memory itself (KvCache) is the
// runner's.
// Thread safety: confined to the engine loop.
// Errors: running out of blocks is a value (false / std::nullopt), never an
// error; unknown sequences and stale prefixes are bugs (CHECK).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/ids.h"
#include "engine/kv/block_pool.h"
#include "engine/kv/prefix_hash.h"

namespace surge::engine::kv {

// The cached full blocks a sequence may start from. Holds no references: pass
// it to Allocate() before any other call on the manager.
struct ComputedPrefix {
  std::vector<int32_t> blocks;
  std::vector<uint64_t> hashes;    // chain hash of each block
  std::vector<PrefixId> prefixes;  // what each block held when found
  int64_t num_tokens = 0;          // blocks.size() * block_size
  int64_t num_query_tokens = 0;    // length of the token list looked up
  uint64_t salt = 0;
};

// Copy slots [0, num_slots) of every layer's K and V from src_block to
// dst_block. num_slots == 0: nothing to copy.
struct BlockCopy {
  int32_t src_block = -1;
  int32_t dst_block = -1;
  int32_t num_slots = 0;
};

// Full, cached blocks held outside any sequence (a session between turns,
// a preloaded system prompt): one reference per block, so they cannot be
// evicted. `tokens` are the blocks' tokens (block_size per block), in order
// from position 0.
struct PinnedPrefix {
  std::vector<int32_t> blocks;
  std::vector<int32_t> tokens;
  uint64_t salt = 0;
};

struct KvCacheStats {
  int32_t num_blocks = 0;
  int32_t num_free_blocks = 0;     // includes cached blocks no sequence uses
  int32_t num_cached_blocks = 0;   // findable by a prefix lookup
  double usage = 0;                // fraction of blocks in use by sequences
  int64_t num_prefix_queries = 0;  // sequences allocated after a lookup
  int64_t prefix_query_tokens = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t num_evictions = 0;
};

class KvCacheManager {
 public:
  KvCacheManager(int32_t num_blocks, int32_t block_size, BlockHashFn hash = &HashBlockTokens);
  KvCacheManager(const KvCacheManager&) = delete;
  KvCacheManager& operator=(const KvCacheManager&) = delete;

  int32_t num_blocks() const { return pool_.num_blocks(); }
  int32_t block_size() const { return pool_.block_size(); }
  int32_t num_free_blocks() const { return pool_.num_free_blocks(); }
  int32_t NumBlocksFor(int64_t num_tokens) const;
  const BlockPool& pool() const { return pool_; }
  KvCacheStats stats() const;

  // The longest run of cached full blocks that starts `tokens` under `salt`.
  // Never covers the last token: a sequence must compute at least one token to
  // get logits, so at most (size - 1) / block_size blocks are returned.
  ComputedPrefix FindCachedPrefix(std::span<const int32_t> tokens, uint64_t salt) const;

  // Starts sequence `seq` (not yet known) with the blocks of `prefix` plus new
  // blocks to cover num_tokens positions. All or nothing: false leaves the
  // manager unchanged. Counts the lookup in the prefix-cache stats.
  [[nodiscard]] bool Allocate(base::SequenceId seq, int64_t num_tokens,
                              const ComputedPrefix& prefix);
  // Grows a known sequence's table to cover num_tokens positions. All or
  // nothing; may evict free cached blocks. True when it already does.
  [[nodiscard]] bool Extend(base::SequenceId seq, int64_t num_tokens);
  // Positions the sequence could cover by Extend() right now.
  int64_t TokenCapacity(base::SequenceId seq) const;

  // Registers, in the prefix cache, every block of the sequence that
  // `computed_tokens` (its tokens whose KV is now written, from position 0)
  // fills and that is not registered yet.
  void CommitFullBlocks(base::SequenceId seq, std::span<const int32_t> computed_tokens);

  // Starts `child` as a copy of the first num_tokens positions of `parent`:
  // full blocks are shared; a partial last block is copied on write: the child
  // gets a new block and the caller must copy the returned slots into it
  // before the child's next token is computed. std::nullopt: no free block
  // for the copy (nothing changed).
  [[nodiscard]] std::optional<BlockCopy> Fork(base::SequenceId parent, base::SequenceId child,
                                              int64_t num_tokens);

  // Returns the sequence's blocks to the pool, last block first; full cached
  // blocks stay findable until evicted.
  void Free(base::SequenceId seq);

  // Pins the sequence's leading committed, cached full blocks, at most
  // max_tokens worth; `tokens` are the sequence's tokens from position 0 (at
  // least the committed ones).
  PinnedPrefix Pin(base::SequenceId seq, std::span<const int32_t> tokens, int64_t max_tokens);
  // Drops a pin. With `scrub`, blocks nobody else holds are forgotten
  // (BlockPool::Scrub) and returned, so the KV owner can wipe them.
  std::vector<int32_t> Unpin(const PinnedPrefix& pin, bool scrub);
  // Restoring a saved pin: NewPinnedBlocks() takes n free blocks (std::nullopt
  // when fewer are free); the caller writes their KV, then CachePinned()
  // makes them findable under the pin's tokens and salt. Blocks whose content
  // another block already holds stay uncached (still pinned, harmless).
  std::optional<std::vector<int32_t>> NewPinnedBlocks(int32_t n);
  void CachePinned(const PinnedPrefix& pin);

  bool Contains(base::SequenceId seq) const { return seqs_.contains(seq); }
  std::span<const int32_t> BlockTable(base::SequenceId seq) const;

 private:
  struct SequenceBlocks {
    std::vector<int32_t> table;
    std::vector<uint64_t> hashes;    // chain hash of each committed block
    std::vector<PrefixId> prefixes;  // kNoPrefix once the chain is broken
    uint64_t salt = 0;
  };

  SequenceBlocks& Get(base::SequenceId seq);
  const SequenceBlocks& Get(base::SequenceId seq) const;

  BlockPool pool_;
  BlockHashFn hash_;
  absl::flat_hash_map<base::SequenceId, SequenceBlocks> seqs_;
  int64_t num_prefix_queries_ = 0;
  int64_t prefix_query_tokens_ = 0;
  int64_t prefix_hit_tokens_ = 0;
};

}  // namespace surge::engine::kv
