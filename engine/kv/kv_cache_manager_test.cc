#include "engine/kv/kv_cache_manager.h"

#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace surge::engine::kv {
namespace {

using base::SequenceId;

constexpr int32_t kBlock = 4;

std::vector<int32_t> Iota(int32_t n, int32_t first = 100) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Runs a sequence over `tokens`: allocates, commits every full block, frees.
void Compute(KvCacheManager& kv, SequenceId seq, const std::vector<int32_t>& tokens,
             uint64_t salt = 0) {
  const ComputedPrefix prefix = kv.FindCachedPrefix(tokens, salt);
  ASSERT_TRUE(kv.Allocate(seq, static_cast<int64_t>(tokens.size()), prefix));
  kv.CommitFullBlocks(seq, tokens);
  kv.Free(seq);
}

TEST(KvCacheManagerTest, PrefixNeverCoversTheLastToken) {
  KvCacheManager kv(16, kBlock);
  const std::vector<int32_t> cached = Iota(12);  // three full blocks
  Compute(kv, SequenceId(1), cached);
  struct Case {
    int32_t query_len;
    int64_t want_tokens;
  };
  const Case cases[] = {{0, 0}, {1, 0},  {4, 0},   {5, 4},  {8, 4},
                        {9, 8}, {12, 8}, {13, 12}, {30, 12}};
  for (const Case& c : cases) {
    std::vector<int32_t> query = Iota(c.query_len);
    const ComputedPrefix p = kv.FindCachedPrefix(query, 0);
    EXPECT_EQ(p.num_tokens, c.want_tokens) << "query_len=" << c.query_len;
    EXPECT_EQ(static_cast<int64_t>(p.blocks.size()) * kBlock, p.num_tokens);
    EXPECT_EQ(p.num_query_tokens, c.query_len);
  }
  EXPECT_EQ(kv.num_free_blocks(), 16);
}

TEST(KvCacheManagerTest, HitSharesBlocksAndCountsTokens) {
  KvCacheManager kv(8, kBlock);
  const std::vector<int32_t> tokens = Iota(10);
  ASSERT_TRUE(kv.Allocate(SequenceId(1), 10, kv.FindCachedPrefix(tokens, 0)));
  kv.CommitFullBlocks(SequenceId(1), tokens);  // blocks 0 and 1 are full

  const ComputedPrefix p = kv.FindCachedPrefix(tokens, 0);
  ASSERT_EQ(p.num_tokens, 8);
  ASSERT_TRUE(kv.Allocate(SequenceId(2), 10, p));
  const auto a = kv.BlockTable(SequenceId(1));
  const auto b = kv.BlockTable(SequenceId(2));
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
  EXPECT_NE(a[2], b[2]);  // the partial block is private
  EXPECT_EQ(kv.pool().ref_count(a[0]), 2);

  const KvCacheStats s = kv.stats();
  EXPECT_EQ(s.num_prefix_queries, 2);
  EXPECT_EQ(s.prefix_query_tokens, 20);
  EXPECT_EQ(s.prefix_hit_tokens, 8);
  EXPECT_DOUBLE_EQ(s.usage, 4.0 / 8.0);
  kv.Free(SequenceId(1));
  kv.Free(SequenceId(2));
  EXPECT_EQ(kv.num_free_blocks(), 8);
  EXPECT_EQ(kv.stats().num_cached_blocks, 2);
}

TEST(KvCacheManagerTest, SaltsIsolateTenants) {
  KvCacheManager kv(8, kBlock);
  const std::vector<int32_t> tokens = Iota(9);
  Compute(kv, SequenceId(1), tokens, /*salt=*/11);
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 11).num_tokens, 8);
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 12).num_tokens, 0);
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 0);
  EXPECT_NE(SaltForTenant("a"), SaltForTenant("b"));
  EXPECT_EQ(SaltForTenant(""), 0u);
}

uint64_t ConstantHash(uint64_t, uint64_t, std::span<const int32_t>) { return 1; }

// Every block hashes alike: lookups must still never hand out other tokens.
TEST(KvCacheManagerTest, ForcedHashCollisionsNeverShareOtherContent) {
  KvCacheManager kv(16, kBlock, &ConstantHash);
  const std::vector<int32_t> a = Iota(9, 0);
  std::vector<int32_t> b = a;
  b[2] = -5;  // differs inside the first block
  std::vector<int32_t> c = a;
  c[6] = -5;  // same first block, differs in the second
  Compute(kv, SequenceId(1), a);
  EXPECT_EQ(kv.stats().num_cached_blocks, 1);  // the second block collided
  EXPECT_EQ(kv.FindCachedPrefix(a, 0).num_tokens, 4);
  EXPECT_EQ(kv.FindCachedPrefix(b, 0).num_tokens, 0);
  EXPECT_EQ(kv.FindCachedPrefix(c, 0).num_tokens, 4);
  EXPECT_EQ(kv.FindCachedPrefix(a, 1).num_tokens, 0);
  // A collision on a second-level block whose parent differs.
  std::vector<int32_t> d = b;
  std::copy(a.begin() + 4, a.begin() + 8, d.begin() + 4);  // d's 2nd block == a's 2nd block
  Compute(kv, SequenceId(2), d);                           // replaces the free cached block
  EXPECT_EQ(kv.FindCachedPrefix(a, 0).num_tokens, 0);
  EXPECT_EQ(kv.FindCachedPrefix(d, 0).num_tokens, 4);
  EXPECT_EQ(kv.num_free_blocks(), 16);
}

TEST(KvCacheManagerTest, EvictsLeastRecentlyFreedDeepestBlocksFirst) {
  KvCacheManager kv(3, kBlock);
  const std::vector<int32_t> tokens = Iota(13);  // three full blocks + 1
  ASSERT_TRUE(kv.Allocate(SequenceId(1), 12, kv.FindCachedPrefix(tokens, 0)));
  kv.CommitFullBlocks(SequenceId(1), std::span<const int32_t>(tokens).first(12));
  kv.Free(SequenceId(1));
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 12);

  // One new block: evicts the third block, the prefix shrinks by one block.
  const std::vector<int32_t> other = Iota(2, 900);
  ASSERT_TRUE(kv.Allocate(SequenceId(2), 2, kv.FindCachedPrefix(other, 0)));
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 8);
  EXPECT_EQ(kv.stats().num_evictions, 1);

  // A hit on the two remaining blocks plus one new block does not fit.
  const ComputedPrefix p = kv.FindCachedPrefix(tokens, 0);
  EXPECT_FALSE(kv.Allocate(SequenceId(3), 12, p));
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 8);  // unchanged by the failure
  ASSERT_TRUE(kv.Allocate(SequenceId(3), 8, p));
  EXPECT_EQ(kv.num_free_blocks(), 0);
  EXPECT_FALSE(kv.Extend(SequenceId(3), 9));
  EXPECT_EQ(kv.TokenCapacity(SequenceId(3)), 8);
  kv.Free(SequenceId(2));
  EXPECT_TRUE(kv.Extend(SequenceId(3), 9));
  kv.Free(SequenceId(3));
  EXPECT_EQ(kv.num_free_blocks(), 3);
}

TEST(KvCacheManagerTest, EvictedPrefixIsCachedAgainWhenRecomputed) {
  KvCacheManager kv(4, kBlock);
  const std::vector<int32_t> tokens = Iota(9);
  Compute(kv, SequenceId(1), tokens);
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 8);
  ASSERT_TRUE(kv.Allocate(SequenceId(2), 16, kv.FindCachedPrefix(Iota(1, 500), 0)));
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 0);
  EXPECT_EQ(kv.stats().num_evictions, 2);
  kv.Free(SequenceId(2));
  Compute(kv, SequenceId(3), tokens);
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 8);
  EXPECT_EQ(kv.num_free_blocks(), 4);
}

TEST(KvCacheManagerTest, ForkSharesFullBlocksAndCopiesThePartialOne) {
  struct Case {
    int64_t fork_tokens;
    int32_t want_shared;
    int32_t want_slots;
  };
  const Case cases[] = {{0, 0, 0}, {3, 0, 3}, {4, 1, 0}, {9, 2, 1}, {12, 3, 0}};
  for (const Case& c : cases) {
    KvCacheManager kv(8, kBlock);
    const std::vector<int32_t> tokens = Iota(12);
    ASSERT_TRUE(kv.Allocate(SequenceId(1), 12, kv.FindCachedPrefix(tokens, 0)));
    kv.CommitFullBlocks(SequenceId(1), tokens);
    const std::optional<BlockCopy> copy = kv.Fork(SequenceId(1), SequenceId(2), c.fork_tokens);
    ASSERT_TRUE(copy.has_value());
    const auto parent = kv.BlockTable(SequenceId(1));
    const auto child = kv.BlockTable(SequenceId(2));
    ASSERT_EQ(static_cast<int32_t>(child.size()), kv.NumBlocksFor(c.fork_tokens));
    for (int32_t i = 0; i < c.want_shared; ++i) {
      EXPECT_EQ(child[i], parent[i]);
      EXPECT_EQ(kv.pool().ref_count(parent[i]), 2);
    }
    EXPECT_EQ(copy->num_slots, c.want_slots) << c.fork_tokens;
    if (c.want_slots > 0) {
      EXPECT_EQ(copy->src_block, parent[c.want_shared]);
      EXPECT_EQ(copy->dst_block, child[c.want_shared]);
      EXPECT_EQ(kv.pool().ref_count(copy->dst_block), 1);
      // The child's copy, once full, commits as a duplicate of the parent's block.
      ASSERT_TRUE(kv.Extend(SequenceId(2), 12));
      kv.CommitFullBlocks(SequenceId(2), tokens);
      EXPECT_EQ(kv.pool().prefix_id(copy->dst_block), kNoPrefix);
    }
    kv.Free(SequenceId(2));
    kv.Free(SequenceId(1));
    EXPECT_EQ(kv.num_free_blocks(), 8);
    EXPECT_EQ(kv.stats().num_cached_blocks, 3);
  }
}

TEST(KvCacheManagerTest, ForkWithoutAFreeBlockChangesNothing) {
  KvCacheManager kv(2, kBlock);
  ASSERT_TRUE(kv.Allocate(SequenceId(1), 6, kv.FindCachedPrefix(Iota(6), 0)));
  EXPECT_FALSE(kv.Fork(SequenceId(1), SequenceId(2), 6).has_value());
  EXPECT_FALSE(kv.Contains(SequenceId(2)));
  ASSERT_TRUE(kv.Fork(SequenceId(1), SequenceId(2), 4).has_value());  // no copy needed
  kv.Free(SequenceId(1));
  kv.Free(SequenceId(2));
  EXPECT_EQ(kv.num_free_blocks(), 2);
}

TEST(KvCacheManagerDeathTest, StalePrefixCrashes) {
  KvCacheManager kv(2, kBlock);
  const std::vector<int32_t> tokens = Iota(5);
  Compute(kv, SequenceId(1), tokens);
  const ComputedPrefix p = kv.FindCachedPrefix(tokens, 0);
  ASSERT_EQ(p.num_tokens, 4);
  ASSERT_TRUE(kv.Allocate(SequenceId(2), 8, kv.FindCachedPrefix(Iota(1, 7), 0)));  // evicts
  EXPECT_DEATH((void)kv.Allocate(SequenceId(3), 5, p), "stale ComputedPrefix");
}

}  // namespace
}  // namespace surge::engine::kv
