#include "engine/kv/block_pool.h"

#include <vector>

#include "gtest/gtest.h"

namespace surge::engine::kv {
namespace {

TEST(BlockPoolTest, AllocateIsAllOrNothing) {
  BlockPool pool(4);
  auto a = pool.Allocate(3);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(pool.num_free_blocks(), 1);
  EXPECT_FALSE(pool.Allocate(2).has_value());
  EXPECT_EQ(pool.num_free_blocks(), 1);
  pool.Release(*a);
  EXPECT_EQ(pool.num_free_blocks(), 4);
}

TEST(BlockPoolTest, SharedBlocksFreeOnLastRelease) {
  BlockPool pool(2);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.has_value());
  pool.Share((*a)[0]);
  EXPECT_EQ(pool.ref_count((*a)[0]), 2);
  pool.Release(*a);
  EXPECT_EQ(pool.num_free_blocks(), 1);
  pool.Release(*a);
  EXPECT_EQ(pool.num_free_blocks(), 2);
}

std::vector<int32_t> Tokens(int32_t first, int32_t n) {
  std::vector<int32_t> t(n);
  for (int32_t i = 0; i < n; ++i) t[i] = first + i;
  return t;
}

TEST(BlockPoolTest, AllocatesLeastRecentlyFreedFirst) {
  BlockPool pool(4, 2);
  auto a = pool.Allocate(4);
  ASSERT_TRUE(a.has_value());
  const std::vector<int32_t> order = {(*a)[2], (*a)[0], (*a)[3], (*a)[1]};
  for (int32_t b : order) pool.Release({&b, 1});
  auto again = pool.Allocate(4);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, order);
  pool.Release(*again);
}

TEST(BlockPoolTest, CachedBlockIsFoundAfterReleaseUntilEvicted) {
  BlockPool pool(2, 2);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.has_value());
  const std::vector<int32_t> tokens = Tokens(7, 2);
  const BlockKey key{42, 0, kRootPrefix, tokens};
  const PrefixId id = pool.Cache((*a)[0], key);
  EXPECT_NE(id, kNoPrefix);
  EXPECT_EQ(pool.num_cached_blocks(), 1);
  pool.Release(*a);
  ASSERT_TRUE(pool.FindCached(key).has_value());
  EXPECT_EQ(pool.FindCached(key)->block, (*a)[0]);
  EXPECT_EQ(pool.FindCached(key)->prefix, id);

  // A hit takes the free block back out of the free list.
  pool.Acquire((*a)[0]);
  EXPECT_EQ(pool.num_free_blocks(), 1);
  pool.Release(*a);

  // Allocating every block evicts it: LRU order reaches it.
  auto all = pool.Allocate(2);
  ASSERT_TRUE(all.has_value());
  EXPECT_FALSE(pool.FindCached(key).has_value());
  EXPECT_EQ(pool.num_cached_blocks(), 0);
  EXPECT_EQ(pool.num_evictions(), 1);
  pool.Release(*all);
  EXPECT_EQ(pool.num_free_blocks(), 2);
}

// The isolation check: an equal hash is not enough, every field must match.
TEST(BlockPoolTest, LookupComparesContentNotJustTheHash) {
  BlockPool pool(2, 2);
  auto a = pool.Allocate(1);
  const std::vector<int32_t> tokens = Tokens(1, 2);
  const std::vector<int32_t> other_tokens = Tokens(3, 2);
  const PrefixId id = pool.Cache((*a)[0], {99, 5, kRootPrefix, tokens});
  struct Case {
    const char* name;
    BlockKey key;
    bool hit;
  };
  const Case cases[] = {
      {"exact", {99, 5, kRootPrefix, tokens}, true},
      {"other tokens, same hash", {99, 5, kRootPrefix, other_tokens}, false},
      {"other salt, same hash", {99, 6, kRootPrefix, tokens}, false},
      {"other parent, same hash", {99, 5, id, tokens}, false},
      {"other hash", {98, 5, kRootPrefix, tokens}, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(pool.FindCached(c.key).has_value(), c.hit) << c.name;
  }
  pool.Release(*a);
}

TEST(BlockPoolTest, CacheResolvesDuplicatesAndCollisions) {
  BlockPool pool(3, 2);
  auto a = pool.Allocate(3);
  const std::vector<int32_t> tokens = Tokens(1, 2);
  const std::vector<int32_t> other_tokens = Tokens(3, 2);
  const PrefixId first = pool.Cache((*a)[0], {7, 0, kRootPrefix, tokens});
  // Same content elsewhere: the existing id, the duplicate stays uncached.
  EXPECT_EQ(pool.Cache((*a)[1], {7, 0, kRootPrefix, tokens}), first);
  EXPECT_EQ(pool.prefix_id((*a)[1]), kNoPrefix);
  // Re-caching the same block is idempotent.
  EXPECT_EQ(pool.Cache((*a)[0], {7, 0, kRootPrefix, tokens}), first);
  // Same hash, other content, holder in use: not cached.
  EXPECT_EQ(pool.Cache((*a)[2], {7, 0, kRootPrefix, other_tokens}), kNoPrefix);
  // Holder free: the fresh content replaces it.
  const int32_t holder = (*a)[0];
  pool.Release({&holder, 1});
  const PrefixId fresh = pool.Cache((*a)[2], {7, 0, kRootPrefix, other_tokens});
  EXPECT_NE(fresh, kNoPrefix);
  EXPECT_NE(fresh, first);
  EXPECT_FALSE(pool.FindCached({7, 0, kRootPrefix, tokens}).has_value());
  EXPECT_EQ(pool.FindCached({7, 0, kRootPrefix, other_tokens})->block, (*a)[2]);
  pool.Release(std::span<const int32_t>(*a).subspan(1));
  EXPECT_EQ(pool.num_free_blocks(), 3);
}

TEST(BlockPoolDeathTest, SharingAFreeBlockCrashes) {
  BlockPool pool(1);
  EXPECT_DEATH(pool.Share(0), "SURGE_CHECK");
}

TEST(BlockPoolDeathTest, AcquiringAFreeUncachedBlockCrashes) {
  BlockPool pool(1);
  EXPECT_DEATH(pool.Acquire(0), "SURGE_CHECK");
}

TEST(BlockPoolDeathTest, DoubleReleaseCrashes) {
  BlockPool pool(1);
  auto a = pool.Allocate(1);
  pool.Release(*a);
  EXPECT_DEATH(pool.Release(*a), "SURGE_CHECK");
}

}  // namespace
}  // namespace surge::engine::kv
