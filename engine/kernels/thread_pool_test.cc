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

// Every item is handed out exactly once, members take ascending runs, and
// the members that do show up finish the shares of those that do not.
TEST(WorkQueueTest, HandsOutEveryItemOnce) {
  for (int members : {1, 2, 3, 9, 20}) {  // 9 and 20 go past the inline shares
    for (int64_t n : {0, 1, 2, 5, 64, 1000}) {
      for (int present : {members, (members + 1) / 2}) {
        WorkQueue queue(n, members);
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::vector<std::thread> threads;
        for (int m = 0; m < present; ++m) {
          threads.emplace_back([&, m] {
            int64_t last = -1;
            int runs = 0;
            for (int64_t i; (i = queue.Next(m)) >= 0;) {
              ASSERT_LT(i, n);
              hits[static_cast<size_t>(i)].fetch_add(1);
              if (i != last + 1) ++runs;
              last = i;
            }
            // Its own share, then at most a few stolen runs per other member.
            EXPECT_LE(runs, 1 + 2 * 32 * members) << "member " << m;
          });
        }
        for (std::thread& t : threads) t.join();
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1)
              << "item " << i << " of " << n << ", " << present << "/" << members << " members";
        }
      }
    }
  }
}

TEST(WorkQueueTest, AloneAMemberTakesItsShareInOrderFirst) {
  WorkQueue queue(10, 2);  // shares [0, 5) and [5, 10)
  for (int64_t want : {5, 6, 7, 8, 9}) EXPECT_EQ(queue.Next(1), want);
  // Then it steals the back half of member 0's share, then the rest.
  std::vector<int64_t> rest;
  for (int64_t i; (i = queue.Next(1)) >= 0;) rest.push_back(i);
  EXPECT_EQ(rest, (std::vector<int64_t>{2, 3, 4, 1, 0}));
  EXPECT_EQ(queue.Next(0), -1);
}

}  // namespace
}  // namespace surge::engine::kernels
