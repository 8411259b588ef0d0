// Randomized workload against the scheduler with the FakeModel: random
// arrivals, prompt and output lengths, priorities, tenants, n, deadlines and
// cancellations, over a KV pool small enough to force preemption. Fixed
// seeds keep failures reproducible.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <span>
#include <vector>

#include "gtest/gtest.h"
#include "scheduler/scheduler.h"
#include "scheduler/scheduler_test_harness.h"

namespace surge::scheduler {
namespace {

using testing::Harness;

class Workload {
 public:
  Workload(uint32_t seed, int32_t alphabet) : rng_(seed), alphabet_(alphabet) {}

  int32_t Uniform(int32_t lo, int32_t hi) {  // inclusive
    return lo + static_cast<int32_t>(rng_() % static_cast<uint32_t>(hi - lo + 1));
  }
  bool OneIn(int32_t n) { return Uniform(1, n) == 1; }

  Request NextRequest(int64_t id, base::TimePoint now) {
    Request r;
    r.id = base::RequestId(id);
    // Some prompts start with one of a few shared "system prompts".
    const int32_t system = Uniform(0, 3);
    if (system > 0) {
      for (int32_t i = 0; i < 8; ++i) r.prompt.push_back(1000 * system + i);
    }
    const int32_t suffix = Uniform(1, 16);
    for (int32_t i = 0; i < suffix; ++i) r.prompt.push_back(Uniform(1, alphabet_));
    r.max_tokens = Uniform(1, 16);
    r.priority = Uniform(-1, 1);
    r.n = OneIn(5) ? Uniform(2, 3) : 1;
    r.salt = static_cast<uint64_t>(Uniform(0, 1));
    if (OneIn(4)) r.queue_deadline = now + std::chrono::milliseconds(Uniform(1, 40));
    return r;
  }

 private:
  std::mt19937 rng_;
  int32_t alphabet_;
};

// Two bits of hash: most cached blocks collide, so lookups lean on the
// content and parent comparison to stay correct.
uint64_t WeakHash(uint64_t parent, uint64_t salt, std::span<const int32_t> tokens) {
  return engine::kv::HashBlockTokens(parent, salt, tokens) & 3;
}

struct StressCase {
  uint32_t seed;
  engine::kv::BlockHashFn hash;
  // Prompt tokens are drawn from [1, alphabet]: a tiny alphabet makes equal
  // blocks behind different prefixes common, which with WeakHash tests the
  // parent comparison of a lookup.
  int32_t alphabet = 63;
};

class SchedulerStressTest : public ::testing::TestWithParam<StressCase> {};

// Runs one workload, checks every invariant, and returns what it exercised.
SchedulerStats RunWorkload(const StressCase& c) {
  Harness::Options o;
  o.hash = c.hash;
  o.num_blocks = 24;
  o.block_size = 4;
  o.vocab = 64;
  o.eos = 0;
  o.config.max_batch_tokens = 32;
  o.config.max_running_seqs = 8;
  o.config.max_queued_requests = 24;
  o.config.max_queued_tokens = 400;
  Harness h(o);
  Workload w(c.seed, c.alphabet);
  int64_t next_id = 0;
  for (int step = 0; step < 4000; ++step) {
    const int32_t arrivals = w.OneIn(3) ? w.Uniform(1, 2) : 0;
    for (int32_t i = 0; i < arrivals; ++i) {
      (void)h.Add(w.NextRequest(next_id++, h.clock().Now()));
    }
    if (next_id > 0 && w.OneIn(25)) h.Cancel(w.Uniform(0, static_cast<int32_t>(next_id - 1)));
    h.Step();
  }
  EXPECT_TRUE(h.RunUntilIdle(20000));
  h.ExpectAllEndedCorrectlyAndNoLeaks();
  const SchedulerStats s = h.scheduler().Snapshot();
  EXPECT_EQ(s.num_running, 0);
  EXPECT_EQ(s.num_waiting, 0);
  return s;
}

// The workloads must have exercised every path they are meant to.
void ExpectEveryPathExercised(const SchedulerStats& s) {
  EXPECT_GT(s.num_preemptions, 0);
  EXPECT_GT(s.prefix_hit_tokens, 0);
  EXPECT_GT(s.num_expired, 0);
  EXPECT_GT(s.num_cancelled, 0);
  EXPECT_GT(s.num_finished_sequences, 0);
  int64_t rejected = 0;
  for (int64_t r : s.num_rejected) rejected += r;
  EXPECT_GT(rejected, 0);
}

TEST_P(SchedulerStressTest, RandomWorkloadKeepsEveryInvariant) {
  ExpectEveryPathExercised(RunWorkload(GetParam()));
}

// `make stress` sets SURGE_STRESS_SECONDS: new seeds, both hashes and both
// alphabets, for that long.
TEST(SchedulerLongStressTest, MoreSeedsForAsLongAsAsked) {
  const char* env = std::getenv("SURGE_STRESS_SECONDS");
  if (env == nullptr || std::atoi(env) <= 0) GTEST_SKIP() << "SURGE_STRESS_SECONDS is not set";
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(env));
  int runs = 0;
  SchedulerStats all;
  for (uint32_t seed = 100; std::chrono::steady_clock::now() < until; ++seed, ++runs) {
    const StressCase c{seed, seed % 2 == 0 ? &engine::kv::HashBlockTokens : &WeakHash,
                       seed % 3 == 0 ? 2 : 63};
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    const SchedulerStats s = RunWorkload(c);
    if (::testing::Test::HasFailure()) break;
    all.num_preemptions += s.num_preemptions;
    all.prefix_hit_tokens += s.prefix_hit_tokens;
    all.num_expired += s.num_expired;
    all.num_cancelled += s.num_cancelled;
    all.num_finished_sequences += s.num_finished_sequences;
    for (size_t i = 0; i < s.num_rejected.size(); ++i) all.num_rejected[i] += s.num_rejected[i];
  }
  ExpectEveryPathExercised(all);
  std::cout << runs << " workloads\n";
}

INSTANTIATE_TEST_SUITE_P(Seeds, SchedulerStressTest,
                         ::testing::Values(StressCase{1, &engine::kv::HashBlockTokens},
                                           StressCase{2, &engine::kv::HashBlockTokens},
                                           StressCase{3, &engine::kv::HashBlockTokens},
                                           StressCase{4, &engine::kv::HashBlockTokens},
                                           StressCase{5, &engine::kv::HashBlockTokens},
                                           StressCase{6, &WeakHash}, StressCase{7, &WeakHash, 2},
                                           StressCase{8, &WeakHash, 2}));

}  // namespace
}  // namespace surge::scheduler
