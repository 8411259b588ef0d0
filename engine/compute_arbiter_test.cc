#include "engine/compute_arbiter.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace surge::engine {
namespace {

TEST(ComputeArbiterTest, OneHolderAtATime) {
  ComputeArbiter arbiter;
  std::atomic<int> holders{0};
  std::atomic<int> max_holders{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        ComputeArbiter::Turn turn = arbiter.Acquire();
        const int now = holders.fetch_add(1) + 1;
        int seen = max_holders.load();
        while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        holders.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(max_holders.load(), 1);
  EXPECT_EQ(arbiter.stats().num_turns, 800);
}

TEST(ComputeArbiterTest, TurnsAreGrantedInArrivalOrder) {
  // The main thread holds a turn while three threads queue up one after
  // another; they must then run in the order they asked.
  ComputeArbiter arbiter;
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread> threads;
  {
    ComputeArbiter::Turn held = arbiter.Acquire();
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        ComputeArbiter::Turn turn = arbiter.Acquire();
        absl::MutexLock lock(&mu);
        order.push_back(t);
      });
      // Wait until thread t holds its ticket (it waits) before starting t + 1.
      while (arbiter.stats().num_waited < t + 1) std::this_thread::yield();
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace surge::engine
