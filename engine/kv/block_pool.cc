#include "engine/kv/block_pool.h"

#include <algorithm>

#include "base/check.h"

namespace surge::engine::kv {

BlockPool::BlockPool(int32_t num_blocks, int32_t block_size)
    : num_blocks_(num_blocks), block_size_(block_size), meta_(num_blocks + 1) {
  SURGE_CHECK(num_blocks >= 0 && block_size > 0);
  tokens_.resize(static_cast<size_t>(num_blocks) * block_size);
  meta_[num_blocks_].prev = meta_[num_blocks_].next = num_blocks_;
  for (int32_t b = 0; b < num_blocks_; ++b) PushFreeBack(b);
}

std::optional<std::vector<int32_t>> BlockPool::Allocate(int32_t n) {
  std::vector<int32_t> out;
  if (!AllocateInto(n, out)) return std::nullopt;
  return out;
}

bool BlockPool::AllocateInto(int32_t n, std::vector<int32_t>& out) {
  if (n < 0 || n > num_free_) return false;
  out.reserve(out.size() + n);
  for (int32_t i = 0; i < n; ++i) out.push_back(TakeLeastRecentlyUsed());
  return true;
}

void BlockPool::Share(int32_t block) {
  SURGE_CHECK(block >= 0 && block < num_blocks_ && meta_[block].ref_count > 0);
  ++meta_[block].ref_count;
}

void BlockPool::Release(std::span<const int32_t> blocks) {
  for (int32_t b : blocks) {
    SURGE_CHECK(b >= 0 && b < num_blocks_ && meta_[b].ref_count > 0);
    if (--meta_[b].ref_count == 0) PushFreeBack(b);
  }
}

std::optional<CachedBlock> BlockPool::FindCached(const BlockKey& key) const {
  auto it = cached_.find(key.hash);
  if (it == cached_.end() || !Matches(it->second, key)) return std::nullopt;
  return CachedBlock{it->second, meta_[it->second].prefix};
}

void BlockPool::Acquire(int32_t block) {
  SURGE_CHECK(block >= 0 && block < num_blocks_);
  Meta& m = meta_[block];
  SURGE_CHECK(m.ref_count > 0 || m.prefix != kNoPrefix);
  if (m.ref_count == 0) Unlink(block);
  ++m.ref_count;
}

PrefixId BlockPool::Cache(int32_t block, const BlockKey& key) {
  SURGE_CHECK(block >= 0 && block < num_blocks_ && meta_[block].ref_count > 0);
  SURGE_CHECK(static_cast<int32_t>(key.tokens.size()) == block_size_ && key.parent != kNoPrefix);
  Meta& m = meta_[block];
  if (m.prefix != kNoPrefix) {
    // Already cached (a shared block committed by each of its sequences).
    SURGE_CHECK_MSG(Matches(block, key), "a cached block re-cached with other content");
    return m.prefix;
  }
  auto [it, inserted] = cached_.try_emplace(key.hash, block);
  if (!inserted) {
    const int32_t other = it->second;
    if (Matches(other, key)) return meta_[other].prefix;
    if (meta_[other].ref_count > 0) return kNoPrefix;
    // A free block holds an unrelated (or unreachable) entry under this hash:
    // the fresh content is the more useful one.
    meta_[other].prefix = kNoPrefix;
    ++num_evictions_;
    it->second = block;
  }
  m.hash = key.hash;
  m.salt = key.salt;
  m.parent = key.parent;
  m.prefix = next_prefix_++;
  std::copy(key.tokens.begin(), key.tokens.end(),
            tokens_.begin() + static_cast<ptrdiff_t>(block) * block_size_);
  return m.prefix;
}

void BlockPool::Scrub(int32_t block) {
  SURGE_CHECK(block >= 0 && block < num_blocks_ && meta_[block].ref_count == 0);
  Meta& m = meta_[block];
  if (m.prefix != kNoPrefix) {
    auto it = cached_.find(m.hash);
    if (it != cached_.end() && it->second == block) cached_.erase(it);
    m.prefix = kNoPrefix;
  }
  // Move to the front of the free list (the next to be taken).
  Unlink(block);
  Meta& sentinel = meta_[num_blocks_];
  m.next = sentinel.next;
  m.prev = num_blocks_;
  meta_[sentinel.next].prev = block;
  sentinel.next = block;
  ++num_free_;
}

bool BlockPool::Matches(int32_t block, const BlockKey& key) const {
  const Meta& m = meta_[block];
  if (m.prefix == kNoPrefix || m.hash != key.hash || m.salt != key.salt || m.parent != key.parent ||
      static_cast<int32_t>(key.tokens.size()) != block_size_) {
    return false;
  }
  const std::span<const int32_t> stored = tokens_of(block);
  return std::equal(stored.begin(), stored.end(), key.tokens.begin());
}

std::span<const int32_t> BlockPool::tokens_of(int32_t block) const {
  return std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(block) * block_size_,
                                                   block_size_);
}

void BlockPool::PushFreeBack(int32_t block) {
  Meta& sentinel = meta_[num_blocks_];
  meta_[block].prev = sentinel.prev;
  meta_[block].next = num_blocks_;
  meta_[sentinel.prev].next = block;
  sentinel.prev = block;
  ++num_free_;
}

void BlockPool::Unlink(int32_t block) {
  Meta& m = meta_[block];
  meta_[m.prev].next = m.next;
  meta_[m.next].prev = m.prev;
  m.prev = m.next = -1;
  --num_free_;
}

int32_t BlockPool::TakeLeastRecentlyUsed() {
  const int32_t block = meta_[num_blocks_].next;
  SURGE_CHECK(block != num_blocks_);
  Unlink(block);
  Meta& m = meta_[block];
  if (m.prefix != kNoPrefix) {
    auto it = cached_.find(m.hash);
    SURGE_DCHECK(it != cached_.end() && it->second == block);
    cached_.erase(it);
    m.prefix = kNoPrefix;
    ++num_evictions_;
  }
  m.ref_count = 1;
  return block;
}

}  // namespace surge::engine::kv
