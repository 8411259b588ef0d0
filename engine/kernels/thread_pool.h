// ThreadPool runs one function on every thread of a fixed team and waits for
// all of them: the compute pool of a runner, one thread per core. The calling
// thread is member 0 and does its share; workers spin briefly for the next
// job, then sleep on a condition variable, so an idle pool costs no CPU.
//
// Ownership: owned by the runner; workers are std::jthreads joined in the
// destructor.
// Thread safety: Run() must be called from one thread at a time (the owner);
// the function it runs is called concurrently from every member.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"

namespace surge::engine::kernels {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);  // num_threads >= 1, including the caller
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const;

  // Calls fn(thread_index, num_threads) on every member; returns when all return.
  void Run(absl::FunctionRef<void(int thread, int num_threads)> fn);

  // Like Run(), for jobs whose members share work through a counter: calls
  // fn on the caller and on every worker that picks the job up before the
  // caller's own call returns; workers later than that skip it. Returns when
  // every call made has returned. A busy or descheduled worker then cannot
  // delay the caller (an oversubscribed machine), and thread indices stay
  // unique, so per-thread scratch indexed by `thread` is safe.
  void RunDynamic(absl::FunctionRef<void(int thread, int num_threads)> fn);

  // Splits [0, n) into contiguous ranges of whole `grain`-sized chunks, one
  // range per member, and calls fn(begin, end) for each non-empty range.
  void ParallelFor(int64_t n, int64_t grain,
                   absl::FunctionRef<void(int64_t begin, int64_t end)> fn);

 private:
  struct Impl;
  Impl* impl_;
};

// Hands out items [0, n) to the members of one RunDynamic() job. Each
// member starts on its own contiguous share and claims from it on its own
// cache line, so while shares last no claim moves a line between cores (on
// a host that puts our vCPUs on different core complexes a shared counter
// costs a ~300 ns round trip per claim); a member whose share is gone steals
// the back half of the largest one left, which also covers members that
// never join. A member therefore takes ascending runs of items. Which member
// computes an item must not change the item's result.
//
// Thread safety: Next() is called concurrently by the members, each with its
// own index.
class WorkQueue {
 public:
  WorkQueue(int64_t n, int num_members);  // n < 2^31
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // The next item for `member`, or -1 once every item has been handed out.
  int64_t Next(int member);

 private:
  // [begin, end) of one share, packed begin | end << 32 so that claims and
  // steals are single compare-and-swaps.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };
  static constexpr int kInline = 8;

  int64_t Steal(int member);

  int num_members_;
  Share inline_[kInline];
  std::unique_ptr<Share[]> heap_;  // when num_members > kInline
  Share* shares_;
};

}  // namespace surge::engine::kernels
