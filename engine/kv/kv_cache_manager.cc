#include "engine/kv/kv_cache_manager.h"

#include <algorithm>

#include "base/check.h"

namespace surge::engine::kv {

KvCacheManager::KvCacheManager(int32_t num_blocks, int32_t block_size, BlockHashFn hash)
    : pool_(num_blocks, block_size), hash_(hash) {
  SURGE_CHECK(hash_ != nullptr);
}

int32_t KvCacheManager::NumBlocksFor(int64_t num_tokens) const {
  return static_cast<int32_t>((num_tokens + block_size() - 1) / block_size());
}

KvCacheStats KvCacheManager::stats() const {
  KvCacheStats s;
  s.num_blocks = num_blocks();
  s.num_free_blocks = num_free_blocks();
  s.num_cached_blocks = pool_.num_cached_blocks();
  s.usage = num_blocks() == 0
                ? 0.0
                : static_cast<double>(num_blocks() - num_free_blocks()) / num_blocks();
  s.num_prefix_queries = num_prefix_queries_;
  s.prefix_query_tokens = prefix_query_tokens_;
  s.prefix_hit_tokens = prefix_hit_tokens_;
  s.num_evictions = pool_.num_evictions();
  return s;
}

ComputedPrefix KvCacheManager::FindCachedPrefix(std::span<const int32_t> tokens,
                                                uint64_t salt) const {
  ComputedPrefix prefix;
  prefix.salt = salt;
  prefix.num_query_tokens = static_cast<int64_t>(tokens.size());
  if (tokens.empty()) return prefix;
  const size_t bs = static_cast<size_t>(block_size());
  const size_t max_blocks = (tokens.size() - 1) / bs;
  uint64_t parent_hash = kRootBlockHash;
  PrefixId parent = kRootPrefix;
  for (size_t b = 0; b < max_blocks; ++b) {
    const std::span<const int32_t> block_tokens = tokens.subspan(b * bs, bs);
    const uint64_t hash = hash_(parent_hash, salt, block_tokens);
    const std::optional<CachedBlock> hit = pool_.FindCached({hash, salt, parent, block_tokens});
    if (!hit.has_value()) break;
    prefix.blocks.push_back(hit->block);
    prefix.hashes.push_back(hash);
    prefix.prefixes.push_back(hit->prefix);
    parent_hash = hash;
    parent = hit->prefix;
  }
  prefix.num_tokens = static_cast<int64_t>(prefix.blocks.size() * bs);
  return prefix;
}

bool KvCacheManager::Allocate(base::SequenceId seq, int64_t num_tokens,
                              const ComputedPrefix& prefix) {
  SURGE_CHECK(!seqs_.contains(seq));
  SURGE_CHECK(num_tokens >= prefix.num_tokens);
  SURGE_CHECK(prefix.hashes.size() == prefix.blocks.size() &&
              prefix.prefixes.size() == prefix.blocks.size());
  const int32_t num_prefix = static_cast<int32_t>(prefix.blocks.size());
  const int32_t num_new = NumBlocksFor(num_tokens) - num_prefix;
  // Prefix blocks that sit in the free list stop being allocatable once taken.
  int32_t num_prefix_free = 0;
  for (int32_t i = 0; i < num_prefix; ++i) {
    const int32_t b = prefix.blocks[i];
    SURGE_CHECK_MSG(pool_.prefix_id(b) == prefix.prefixes[i], "stale ComputedPrefix");
    if (pool_.ref_count(b) == 0) ++num_prefix_free;
  }
  if (num_new > num_free_blocks() - num_prefix_free) return false;

  SequenceBlocks& s = seqs_[seq];
  s.salt = prefix.salt;
  s.table.reserve(static_cast<size_t>(num_prefix + num_new));
  for (int32_t b : prefix.blocks) {
    pool_.Acquire(b);
    s.table.push_back(b);
  }
  s.hashes = prefix.hashes;
  s.prefixes = prefix.prefixes;
  SURGE_CHECK(pool_.AllocateInto(num_new, s.table));
  ++num_prefix_queries_;
  prefix_query_tokens_ += prefix.num_query_tokens;
  prefix_hit_tokens_ += prefix.num_tokens;
  return true;
}

bool KvCacheManager::Extend(base::SequenceId seq, int64_t num_tokens) {
  SequenceBlocks& s = Get(seq);
  const int32_t num_new = NumBlocksFor(num_tokens) - static_cast<int32_t>(s.table.size());
  if (num_new <= 0) return true;
  return pool_.AllocateInto(num_new, s.table);
}

int64_t KvCacheManager::TokenCapacity(base::SequenceId seq) const {
  return (static_cast<int64_t>(Get(seq).table.size()) + num_free_blocks()) * block_size();
}

void KvCacheManager::CommitFullBlocks(base::SequenceId seq,
                                      std::span<const int32_t> computed_tokens) {
  SequenceBlocks& s = Get(seq);
  const size_t bs = static_cast<size_t>(block_size());
  for (size_t b = s.hashes.size(); (b + 1) * bs <= computed_tokens.size(); ++b) {
    SURGE_CHECK(b < s.table.size());
    const uint64_t parent_hash = b == 0 ? kRootBlockHash : s.hashes[b - 1];
    const PrefixId parent = b == 0 ? kRootPrefix : s.prefixes[b - 1];
    const std::span<const int32_t> block_tokens = computed_tokens.subspan(b * bs, bs);
    const uint64_t hash = hash_(parent_hash, s.salt, block_tokens);
    // Past a block that could not be cached no later block is reachable.
    const PrefixId id = parent == kNoPrefix
                            ? kNoPrefix
                            : pool_.Cache(s.table[b], {hash, s.salt, parent, block_tokens});
    s.hashes.push_back(hash);
    s.prefixes.push_back(id);
  }
}

std::optional<BlockCopy> KvCacheManager::Fork(base::SequenceId parent, base::SequenceId child,
                                              int64_t num_tokens) {
  SURGE_CHECK(!seqs_.contains(child));
  const SequenceBlocks& p = Get(parent);
  const size_t bs = static_cast<size_t>(block_size());
  const size_t num_full = static_cast<size_t>(num_tokens) / bs;
  const int32_t num_slots = static_cast<int32_t>(static_cast<size_t>(num_tokens) % bs);
  SURGE_CHECK(num_tokens >= 0 && NumBlocksFor(num_tokens) <= static_cast<int32_t>(p.table.size()));
  if (num_slots > 0 && num_free_blocks() == 0) return std::nullopt;

  SequenceBlocks c;
  c.salt = p.salt;
  c.table.assign(p.table.begin(), p.table.begin() + static_cast<ptrdiff_t>(num_full));
  const size_t num_committed = std::min(num_full, p.hashes.size());
  c.hashes.assign(p.hashes.begin(), p.hashes.begin() + static_cast<ptrdiff_t>(num_committed));
  c.prefixes.assign(p.prefixes.begin(), p.prefixes.begin() + static_cast<ptrdiff_t>(num_committed));
  BlockCopy copy;
  if (num_slots > 0) {
    copy = {p.table[num_full], -1, num_slots};
    SURGE_CHECK(pool_.AllocateInto(1, c.table));
    copy.dst_block = c.table.back();
  }
  for (size_t i = 0; i < num_full; ++i) pool_.Share(c.table[i]);
  seqs_.emplace(child, std::move(c));  // invalidates `p`
  return copy;
}

void KvCacheManager::Free(base::SequenceId seq) {
  auto it = seqs_.find(seq);
  SURGE_CHECK_MSG(it != seqs_.end(), "Free of an unknown sequence");
  const std::vector<int32_t>& table = it->second.table;
  // Last block first: the deepest blocks become the least recently used.
  for (auto b = table.rbegin(); b != table.rend(); ++b) pool_.Release({&*b, 1});
  seqs_.erase(it);
}

PinnedPrefix KvCacheManager::Pin(base::SequenceId seq, std::span<const int32_t> tokens,
                                 int64_t max_tokens) {
  const SequenceBlocks& s = Get(seq);
  const size_t bs = static_cast<size_t>(block_size());
  PinnedPrefix pin;
  pin.salt = s.salt;
  for (size_t b = 0; b < s.hashes.size() && (b + 1) * bs <= tokens.size() &&
                     static_cast<int64_t>((b + 1) * bs) <= max_tokens;
       ++b) {
    // Only blocks findable under this chain are worth holding.
    if (s.prefixes[b] == kNoPrefix || pool_.prefix_id(s.table[b]) != s.prefixes[b]) break;
    pool_.Share(s.table[b]);
    pin.blocks.push_back(s.table[b]);
  }
  pin.tokens.assign(tokens.begin(),
                    tokens.begin() + static_cast<ptrdiff_t>(pin.blocks.size() * bs));
  return pin;
}

std::vector<int32_t> KvCacheManager::Unpin(const PinnedPrefix& pin, bool scrub) {
  std::vector<int32_t> scrubbed;
  for (auto b = pin.blocks.rbegin(); b != pin.blocks.rend(); ++b) {
    pool_.Release({&*b, 1});
    if (scrub && pool_.ref_count(*b) == 0) {
      pool_.Scrub(*b);
      scrubbed.push_back(*b);
    }
  }
  return scrubbed;
}

std::optional<std::vector<int32_t>> KvCacheManager::NewPinnedBlocks(int32_t n) {
  std::vector<int32_t> blocks;
  if (!pool_.AllocateInto(n, blocks)) return std::nullopt;
  return blocks;
}

void KvCacheManager::CachePinned(const PinnedPrefix& pin) {
  const size_t bs = static_cast<size_t>(block_size());
  SURGE_CHECK(pin.tokens.size() == pin.blocks.size() * bs);
  uint64_t parent_hash = kRootBlockHash;
  PrefixId parent = kRootPrefix;
  for (size_t b = 0; b < pin.blocks.size() && parent != kNoPrefix; ++b) {
    const std::span<const int32_t> block_tokens =
        std::span<const int32_t>(pin.tokens).subspan(b * bs, bs);
    const uint64_t hash = hash_(parent_hash, pin.salt, block_tokens);
    parent = pool_.Cache(pin.blocks[b], {hash, pin.salt, parent, block_tokens});
    parent_hash = hash;
  }
}

std::span<const int32_t> KvCacheManager::BlockTable(base::SequenceId seq) const {
  return Get(seq).table;
}

KvCacheManager::SequenceBlocks& KvCacheManager::Get(base::SequenceId seq) {
  auto it = seqs_.find(seq);
  SURGE_CHECK_MSG(it != seqs_.end(), "unknown sequence");
  return it->second;
}

const KvCacheManager::SequenceBlocks& KvCacheManager::Get(base::SequenceId seq) const {
  auto it = seqs_.find(seq);
  SURGE_CHECK_MSG(it != seqs_.end(), "unknown sequence");
  return it->second;
}

}  // namespace surge::engine::kv
