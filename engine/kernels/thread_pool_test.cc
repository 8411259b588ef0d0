#include "engine/kernels/thread_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace surge::engine::kernels {
namespace {

TEST(ThreadPoolTest, EveryMemberRunsOnce) {
  for (int n : {1, 2, 3, 5}) {
    ThreadPool pool(n);
    EXPECT_EQ(pool.num_threads(), n);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.Run([&](int thread, int num_threads) {
      EXPECT_EQ(num_threads, n);
      hits[static_cast<size_t>(thread)].fetch_add(1);
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(ThreadPoolTest, ParallelForCoversRangeExactlyOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 7, 64, 1000, 1001}) {
    for (int64_t grain : {1, 4, 16, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.ParallelFor(n, grain, [&](int64_t begin, int64_t end) {
        EXPECT_LT(begin, end);
        if (end < n) {
          EXPECT_EQ(end % grain, 0);
        }
        EXPECT_EQ(begin % grain, 0);
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << n << " " << grain;
    }
  }
}

TEST(ThreadPoolTest, ManyRunsInARow) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int i = 0; i < 5000; ++i) {
    pool.Run([&](int thread, int) { total.fetch_add(thread + 1, std::memory_order_relaxed); });
  }
  EXPECT_EQ(total.load(), 5000 * 3);
}

TEST(ThreadPoolTest, RunsAfterWorkersFellAsleep) {
  ThreadPool pool(3);
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<int> count{0};
    pool.Run([&](int, int) { count.fetch_add(1); });
    EXPECT_EQ(count.load(), 3);
  }
}

TEST(ThreadPoolTest, RunDynamicSharesACounter) {
  ThreadPool pool(3);
  for (int i = 0; i < 2000; ++i) {
    std::atomic<int64_t> next{0};
    std::vector<std::atomic<int>> hits(100);
    std::atomic<int> seen_threads{0};
    pool.RunDynamic([&](int thread, int num_threads) {
      EXPECT_EQ(num_threads, 3);
      seen_threads.fetch_or(1 << thread);
      for (int64_t u; (u = next.fetch_add(1)) < 100;) hits[static_cast<size_t>(u)].fetch_add(1);
    });
    EXPECT_TRUE(seen_threads.load() & 1);  // the caller always runs
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPoolTest, RunDynamicThenRunMixed) {
  ThreadPool pool(2);
  for (int i = 0; i < 3000; ++i) {
    std::atomic<int> count{0};
    if (i % 3 == 0) {
      pool.Run([&](int, int) { count.fetch_add(1); });
      ASSERT_EQ(count.load(), 2);
    } else {
      pool.RunDynamic([&](int, int) { count.fetch_add(1); });
      ASSERT_GE(count.load(), 1);
      ASSERT_LE(count.load(), 2);
    }
  }
}

}  // namespace
}  // namespace surge::engine::kernels
