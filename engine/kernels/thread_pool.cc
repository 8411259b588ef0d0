// ThreadPool: a generation counter announces each job. Workers spin on it for
// a short while (kSpin) and then block in std::atomic::wait; the caller only
// pays for a futex wake when some worker is asleep (libstdc++ tracks waiters).
#include "engine/kernels/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "base/check.h"

namespace surge::engine::kernels {
namespace {

using Job = absl::FunctionRef<void(int, int)>;

// How long an idle worker polls for the next job, and the caller for the
// workers to finish, before sleeping. The runner issues ~100 jobs per forward
// step with short gaps between them; a longer spin only burns a core that an
// oversubscribed machine could give to the thread being waited for.
constexpr auto kSpin = std::chrono::microseconds(50);

// Polls `pred` with pause instructions until it holds or `budget` passes.
template <typename Pred>
bool SpinUntil(Pred pred, std::chrono::steady_clock::duration budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      _mm_pause();
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
}

}  // namespace

// Job protocol: the caller publishes a job and bumps `generation`. A worker
// that sees a new generation joins it through `gate` (tagged with the
// generation's low 32 bits, so a worker that slept through a job cannot join
// the next one twice), runs it and counts itself in `finished`. A dynamic job
// is closed by the caller once its own call returns; workers that have not
// joined by then skip it, and the caller waits only for those that did.
struct ThreadPool::Impl {
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kCountMask = kClosed - 1;

  explicit Impl(int n) : num_threads(n) {}

  static uint64_t Tag(uint64_t gen) { return (gen & 0xffffffffu) << 32; }

  // Joins the job of generation `gen` if it is still open.
  bool Join(uint64_t gen) {
    uint64_t g = gate.load(std::memory_order_acquire);
    for (;;) {
      if ((g & ~(kClosed | kCountMask)) != Tag(gen) || (g & kClosed)) return false;
      if (gate.compare_exchange_weak(g, g + 1, std::memory_order_acq_rel)) return true;
    }
  }

  void WorkerLoop(int index) {
    uint64_t seen = 0;
    for (;;) {
      auto changed = [&] { return generation.load(std::memory_order_acquire) != seen; };
      if (!SpinUntil(changed, kSpin)) {
        while (!changed()) generation.wait(seen, std::memory_order_acquire);
      }
      seen = generation.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_acquire)) return;
      if (!Join(seen)) continue;
      (*job)(index, num_threads);
      finished.fetch_add(1, std::memory_order_acq_rel);
      finished.notify_one();
    }
  }

  // Publishes `fn`, runs it as member 0, and waits for the workers (all of
  // them, or for a dynamic job those that joined).
  void RunJob(const Job& fn, bool dynamic) {
    SURGE_CHECK_MSG(!running.exchange(true, std::memory_order_relaxed),
                    "ThreadPool::Run is not reentrant");
    job = &fn;
    finished.store(0, std::memory_order_relaxed);
    const uint64_t gen = generation.load(std::memory_order_relaxed) + 1;
    gate.store(Tag(gen), std::memory_order_relaxed);
    generation.store(gen, std::memory_order_seq_cst);
    generation.notify_all();
    fn(0, num_threads);
    const int expected =
        dynamic ? static_cast<int>(gate.fetch_or(kClosed) & kCountMask) : num_threads - 1;
    auto done = [&] { return finished.load(std::memory_order_acquire) == expected; };
    if (!SpinUntil(done, kSpin)) {
      for (int now; (now = finished.load(std::memory_order_acquire)) != expected;) {
        finished.wait(now, std::memory_order_acquire);
      }
    }
    job = nullptr;
    running.store(false, std::memory_order_relaxed);
  }

  const int num_threads;
  std::vector<std::jthread> workers;
  const Job* job = nullptr;  // valid while a job is in flight
  std::atomic<bool> stop{false};
  alignas(64) std::atomic<uint64_t> generation{0};
  alignas(64) std::atomic<uint64_t> gate{0};
  alignas(64) std::atomic<int> finished{0};
  std::atomic<bool> running{false};  // catches nested / concurrent Run()
};

ThreadPool::ThreadPool(int num_threads) : impl_(new Impl(num_threads)) {
  SURGE_CHECK(num_threads >= 1);
  impl_->workers.reserve(static_cast<size_t>(num_threads - 1));
  for (int i = 1; i < num_threads; ++i) {
    impl_->workers.emplace_back([this, i] { impl_->WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  impl_->stop.store(true, std::memory_order_release);
  impl_->generation.fetch_add(1, std::memory_order_acq_rel);
  impl_->generation.notify_all();
  impl_->workers.clear();  // joins
  delete impl_;
}

int ThreadPool::num_threads() const { return impl_->num_threads; }

void ThreadPool::Run(absl::FunctionRef<void(int thread, int num_threads)> fn) {
  if (impl_->num_threads == 1) {
    fn(0, 1);
    return;
  }
  impl_->RunJob(fn, /*dynamic=*/false);
}

void ThreadPool::RunDynamic(absl::FunctionRef<void(int thread, int num_threads)> fn) {
  if (impl_->num_threads == 1) {
    fn(0, 1);
    return;
  }
  impl_->RunJob(fn, /*dynamic=*/true);
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             absl::FunctionRef<void(int64_t begin, int64_t end)> fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t chunks = (n + grain - 1) / grain;
  if (chunks == 1 || impl_->num_threads == 1) {
    fn(0, n);
    return;
  }
  Run([&](int thread, int num_threads) {
    const int64_t c0 = chunks * thread / num_threads;
    const int64_t c1 = chunks * (thread + 1) / num_threads;
    const int64_t begin = c0 * grain;
    const int64_t end = std::min(n, c1 * grain);
    if (begin < end) fn(begin, end);
  });
}

namespace {

constexpr uint64_t Pack(uint64_t begin, uint64_t end) { return begin | end << 32; }
constexpr int64_t Begin(uint64_t r) { return static_cast<int64_t>(r & 0xffffffffu); }
constexpr int64_t End(uint64_t r) { return static_cast<int64_t>(r >> 32); }

}  // namespace

WorkQueue::WorkQueue(int64_t n, int num_members) : num_members_(num_members) {
  SURGE_CHECK(num_members >= 1 && n >= 0 && n < (int64_t{1} << 31));
  if (num_members > kInline) heap_ = std::make_unique<Share[]>(static_cast<size_t>(num_members));
  shares_ = heap_ ? heap_.get() : inline_;
  for (int m = 0; m < num_members; ++m) {
    const int64_t begin = n * m / num_members, end = n * (m + 1) / num_members;
    shares_[m].range.store(Pack(begin, end), std::memory_order_relaxed);
  }
}

int64_t WorkQueue::Next(int member) {
  std::atomic<uint64_t>& own = shares_[member].range;
  uint64_t r = own.load(std::memory_order_relaxed);
  while (Begin(r) < End(r)) {
    if (own.compare_exchange_weak(r, Pack(Begin(r) + 1, End(r)), std::memory_order_relaxed)) {
      return Begin(r);
    }
  }
  return Steal(member);
}

// Takes the back half of the largest share left (all of a one-item share),
// keeps its first item and makes the rest the member's own share. The own
// share is empty meanwhile, so no other member touches it.
int64_t WorkQueue::Steal(int member) {
  for (;;) {
    int victim = -1;
    int64_t most = 0;
    uint64_t seen = 0;
    for (int m = 0; m < num_members_; ++m) {
      const uint64_t r = shares_[m].range.load(std::memory_order_relaxed);
      if (End(r) - Begin(r) > most) {
        most = End(r) - Begin(r);
        victim = m;
        seen = r;
      }
    }
    if (victim < 0) return -1;
    const int64_t mid = Begin(seen) + (End(seen) - Begin(seen)) / 2;
    if (shares_[victim].range.compare_exchange_strong(seen, Pack(Begin(seen), mid),
                                                      std::memory_order_relaxed)) {
      shares_[member].range.store(Pack(mid + 1, End(seen)), std::memory_order_relaxed);
      return mid;
    }
  }
}

}  // namespace surge::engine::kernels
