#include "scheduler/scheduler.h"

#include <vector>

#include "gtest/gtest.h"
#include "scheduler/scheduler_test_harness.h"

namespace surge::scheduler {
namespace {

using testing::Harness;
using testing::Scheduled;
using testing::Tokens;

Harness::Options Opts(int64_t max_batch_tokens, int32_t num_blocks = 64,
                      int32_t max_running_seqs = 256) {
  Harness::Options o;
  o.config.max_batch_tokens = max_batch_tokens;
  o.config.max_running_seqs = max_running_seqs;
  o.num_blocks = num_blocks;
  return o;
}

// ---- Budgets, chunking, decodes first -------------------------------------

struct PlanCase {
  const char* name;
  int64_t budget;
  std::vector<int32_t> prompt_lens;  // request i + 1
  int32_t max_tokens;
  std::vector<std::vector<Scheduled>> steps;  // (request, tokens) per step
};

TEST(SchedulerTest, BudgetChunkingAndDecodesFirst) {
  const PlanCase cases[] = {
      {"long prompt is chunked", 8, {20}, 3, {{{1, 8}}, {{1, 8}}, {{1, 4}}, {{1, 1}}, {{1, 1}}}},
      {"prefills share the budget; decode goes first",
       8,
       {5, 6},
       2,
       {{{1, 5}, {2, 3}}, {{1, 1}, {2, 3}}, {{2, 1}}}},
      {"decodes use the whole budget; the prompt waits",
       2,
       {1, 1, 3},
       3,
       {{{1, 1}, {2, 1}},
        {{1, 1}, {2, 1}},
        {{1, 1}, {2, 1}},
        {{3, 2}},
        {{3, 1}},
        {{3, 1}},
        {{3, 1}}}},
      {"decode then the rest of a chunked prompt",
       4,
       {2, 9},
       2,
       {{{1, 2}, {2, 2}}, {{1, 1}, {2, 3}}, {{2, 4}}, {{2, 1}}}},
  };
  for (const PlanCase& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(Opts(c.budget));
    for (size_t i = 0; i < c.prompt_lens.size(); ++i) {
      ASSERT_EQ(h.Add(static_cast<int64_t>(i + 1), Tokens(c.prompt_lens[i], 10 * i), c.max_tokens),
                AdmitResult::kAdmitted);
    }
    ASSERT_TRUE(h.RunUntilIdle());
    std::vector<std::vector<Scheduled>> got;
    for (const auto& rec : h.history()) got.push_back(rec.sequences);
    EXPECT_EQ(got, c.steps);
    int64_t prompt_tokens = 0;
    for (int32_t len : c.prompt_lens) prompt_tokens += len;
    const SchedulerStats s = h.scheduler().Snapshot();
    EXPECT_EQ(s.num_prefill_tokens, prompt_tokens);
    EXPECT_EQ(s.num_decode_tokens, static_cast<int64_t>(c.prompt_lens.size()) * (c.max_tokens - 1));
    EXPECT_EQ(s.num_steps, static_cast<int64_t>(c.steps.size()));
    h.ExpectAllEndedCorrectlyAndNoLeaks();
  }
}

// ---- Priorities ------------------------------------------------------------

TEST(SchedulerTest, PriorityOrderThenFcfs) {
  struct Case {
    const char* name;
    std::vector<int32_t> priorities;  // request i + 1, added in this order
    std::vector<int64_t> want_order;  // of completion
  };
  const Case cases[] = {
      {"same priority is FCFS", {0, 0, 0, 0}, {1, 2, 3, 4}},
      {"lower runs sooner", {2, 1, 0, -1}, {4, 3, 2, 1}},
      {"mixed", {0, 1, 0, -1, 1}, {4, 1, 3, 2, 5}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(Opts(64, 64, /*max_running_seqs=*/1));
    for (size_t i = 0; i < c.priorities.size(); ++i) {
      ASSERT_EQ(h.Add(static_cast<int64_t>(i + 1), Tokens(3, 7 * i), 2, c.priorities[i]),
                AdmitResult::kAdmitted);
    }
    ASSERT_TRUE(h.RunUntilIdle());
    std::vector<int64_t> order;
    for (const auto& rec : h.history()) {
      for (const Scheduled& s : rec.sequences) {
        if (order.empty() || order.back() != s.request) order.push_back(s.request);
      }
    }
    EXPECT_EQ(order, c.want_order);
    h.ExpectAllEndedCorrectlyAndNoLeaks();
  }
}

// ---- Preemption ------------------------------------------------------------

TEST(SchedulerTest, PreemptsLowestPriorityLatestArrivedAndResumesIdentically) {
  struct Case {
    const char* name;
    int32_t num_blocks;
    std::vector<int32_t> priorities;    // requests 1, 2, 3, added in order
    std::vector<int64_t> want_victims;  // request ids, at the first decode step
  };
  const Case cases[] = {
      {"equal priorities: latest arrived", 4, {0, 0, 0}, {3}},
      {"lowest priority", 4, {0, 1, 0}, {2}},
      {"lowest priority even if earliest", 4, {1, 0, 0}, {1}},
      {"latest among the lowest", 4, {0, 0, -1}, {2}},
      {"the needy sequence preempts itself", 3, {0, 0, 0}, {3, 2}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // Prompts of one block each: the first decode needs a second block apiece.
    Harness h(Opts(64, c.num_blocks));
    for (int64_t id = 1; id <= 3; ++id) {
      ASSERT_EQ(h.Add(id, Tokens(4, 100 * static_cast<int32_t>(id)), 6, c.priorities[id - 1]),
                AdmitResult::kAdmitted);
    }
    h.Step();  // all three prompts
    const testing::StepRecord rec = h.Step();
    std::vector<int64_t> victims;
    for (base::SequenceId seq : rec.preempted)
      victims.push_back(seq.value() + 1);  // seq i <-> request i+1
    EXPECT_EQ(victims, c.want_victims);
    ASSERT_TRUE(h.RunUntilIdle());
    h.ExpectAllEndedCorrectlyAndNoLeaks();
    EXPECT_GE(h.scheduler().Snapshot().num_preemptions, 1);
  }
}

TEST(SchedulerTest, PreemptedSequenceResumesAheadOfItsPriorityClass) {
  Harness h(Opts(64, /*num_blocks=*/4, /*max_running_seqs=*/2));
  for (int64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(h.Add(id, Tokens(4, 10 * static_cast<int32_t>(id)), 6), AdmitResult::kAdmitted);
  }
  size_t preempted_at = 0;
  while (!h.scheduler().idle() && preempted_at == 0) {
    if (!h.Step().preempted.empty()) preempted_at = h.history().size();
  }
  ASSERT_GT(preempted_at, 0u);
  EXPECT_EQ(h.history().back().preempted, std::vector<base::SequenceId>{base::SequenceId(1)});
  ASSERT_TRUE(h.RunUntilIdle());
  // Request 2 (preempted) runs again before request 3 (waiting since the start).
  int64_t first = 0;
  for (size_t i = preempted_at; i < h.history().size() && first == 0; ++i) {
    for (const Scheduled& s : h.history()[i].sequences) {
      if (s.request != 1 && first == 0) first = s.request;
    }
  }
  EXPECT_EQ(first, 2);
  h.ExpectAllEndedCorrectlyAndNoLeaks();
}

// ---- Admission -------------------------------------------------------------

TEST(SchedulerTest, AdmissionLimitsAreTypedRejections) {
  struct Add {
    int32_t prompt_len;
    int32_t max_tokens;
    AdmitResult want;
    int32_t n = 1;
    int64_t id = 0;  // 0: a fresh id
  };
  struct Case {
    const char* name;
    SchedulerConfig config;
    int32_t num_blocks;
    std::vector<Add> adds;
  };
  SchedulerConfig count;
  count.max_queued_requests = 2;
  SchedulerConfig tokens;
  tokens.max_queued_tokens = 10;
  SchedulerConfig len;
  len.max_model_len = 20;
  const Case cases[] = {
      {"queue count",
       count,
       64,
       {{4, 1, AdmitResult::kAdmitted},
        {4, 1, AdmitResult::kAdmitted},
        {1, 1, AdmitResult::kQueueFull}}},
      {"queue tokens",
       tokens,
       64,
       {{6, 1, AdmitResult::kAdmitted},
        {5, 1, AdmitResult::kQueueTokensFull},
        {4, 1, AdmitResult::kAdmitted},
        {1, 1, AdmitResult::kQueueTokensFull}}},
      {"context length",
       len,
       64,
       {{15, 5, AdmitResult::kAdmitted}, {15, 6, AdmitResult::kTooLong}}},
      {"larger than the whole KV cache",
       SchedulerConfig{},
       4,
       {{10, 6, AdmitResult::kAdmitted}, {10, 7, AdmitResult::kTooLong}}},
      {"invalid",
       SchedulerConfig{},
       64,
       {{0, 1, AdmitResult::kInvalid},
        {3, 0, AdmitResult::kInvalid},
        {3, 1, AdmitResult::kInvalid, 0},
        {3, 1, AdmitResult::kAdmitted, 1, 7},
        {3, 1, AdmitResult::kInvalid, 1, 7}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness::Options o;
    o.config = c.config;
    o.num_blocks = c.num_blocks;
    Harness h(o);
    int64_t next_id = 100;
    int64_t rejected = 0;
    for (const Add& a : c.adds) {
      const int64_t id = a.id != 0 ? a.id : next_id++;
      EXPECT_EQ(h.Add(id, Tokens(a.prompt_len), a.max_tokens, 0, 0, a.n), a.want)
          << "prompt " << a.prompt_len << " max_tokens " << a.max_tokens;
      rejected += a.want != AdmitResult::kAdmitted;
    }
    const SchedulerStats s = h.scheduler().Snapshot();
    int64_t counted = 0;
    for (int64_t r : s.num_rejected) counted += r;
    EXPECT_EQ(counted, rejected);
    ASSERT_TRUE(h.RunUntilIdle());
    h.ExpectAllEndedCorrectlyAndNoLeaks();
  }
}

// ---- Deadlines -------------------------------------------------------------

TEST(SchedulerTest, QueueDeadlinesExpireOnlyWaitingRequests) {
  Harness h(Opts(64, 64, /*max_running_seqs=*/1));
  const base::TimePoint t0 = h.clock().Now();
  auto add = [&](int64_t id, int ms) {
    Request r;
    r.id = base::RequestId(id);
    r.prompt = Tokens(3, static_cast<int32_t>(id) * 10);
    r.max_tokens = 10;
    r.queue_deadline = t0 + std::chrono::milliseconds(ms);
    return h.Add(std::move(r));
  };
  ASSERT_EQ(add(1, 2), AdmitResult::kAdmitted);   // starts at once, runs past its deadline
  ASSERT_EQ(add(2, 5), AdmitResult::kAdmitted);   // stuck behind 1: expires
  ASSERT_EQ(add(3, 50), AdmitResult::kAdmitted);  // starts after 1 ends, in time
  std::vector<int64_t> expired_at;
  for (int step = 0; !h.scheduler().idle() && step < 100; ++step) {
    for (base::RequestId id : h.Step().expired) {
      EXPECT_EQ(id, base::RequestId(2));
      expired_at.push_back(step);
    }
  }
  EXPECT_EQ(expired_at, std::vector<int64_t>{5});  // the clock moves 1 ms per step
  EXPECT_EQ(h.terminal(1), "finished");
  EXPECT_EQ(h.terminal(2), "expired");
  EXPECT_EQ(h.terminal(3), "finished");
  EXPECT_EQ(h.scheduler().Snapshot().num_expired, 1);
  h.ExpectAllEndedCorrectlyAndNoLeaks();
}

// ---- Cancellation ----------------------------------------------------------

TEST(SchedulerTest, CancelAtEveryStageFreesBlocksAtOnce) {
  struct Case {
    const char* name;
    int32_t steps_before;  // steps run before Cancel
    int32_t n;
    int32_t num_blocks;
    int32_t want_cancelled;  // sequences
    bool want_preempted;
  };
  const Case cases[] = {
      {"queued", 0, 1, 64, 1, false},
      {"prefilling", 2, 1, 64, 1, false},
      {"decoding", 6, 1, 64, 1, false},
      {"decoding, n = 3", 6, 3, 64, 3, false},
      {"preempted, waiting to resume", 9, 1, 12, 1, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(Opts(8, c.num_blocks));
    // Request 1 (higher priority) keeps running; request 2 is cancelled.
    ASSERT_EQ(h.Add(1, Tokens(8, 500), 20, -1), AdmitResult::kAdmitted);
    ASSERT_EQ(h.Add(2, Tokens(30), 10, 0, 0, c.n), AdmitResult::kAdmitted);
    for (int i = 0; i < c.steps_before; ++i) h.Step();
    EXPECT_EQ(h.scheduler().Snapshot().num_preemptions > 0, c.want_preempted);
    const base::SequenceId first(0);
    const int32_t held_by_1 =
        h.kv().Contains(first) ? static_cast<int32_t>(h.kv().BlockTable(first).size()) : 0;
    EXPECT_EQ(h.Cancel(2), c.want_cancelled);
    EXPECT_EQ(h.kv().num_free_blocks(), h.kv().num_blocks() - held_by_1);
    EXPECT_EQ(h.Cancel(2), 0);  // already gone
    ASSERT_TRUE(h.RunUntilIdle());
    EXPECT_EQ(h.terminal(2), "cancelled");
    h.ExpectAllEndedCorrectlyAndNoLeaks();
  }
}

// The Engine ends the requests of a failed step: it cancels them after the
// step ran and gives Update() what it has; the others advance normally.
TEST(SchedulerTest, CancelAfterExecuteThenUpdateSkipsTheCancelled) {
  Harness h(Opts(64));
  ASSERT_EQ(h.Add(1, Tokens(5), 3), AdmitResult::kAdmitted);
  ASSERT_EQ(h.Add(2, Tokens(6, 50), 3), AdmitResult::kAdmitted);
  const testing::StepRecord rec = h.Step([&] { EXPECT_EQ(h.Cancel(2), 1); });
  EXPECT_EQ(rec.sequences.size(), 2u);
  ASSERT_TRUE(h.RunUntilIdle());
  EXPECT_EQ(h.terminal(1), "finished");
  EXPECT_EQ(h.terminal(2), "cancelled");
  EXPECT_EQ(h.scheduler().Snapshot().num_cancelled_sequences, 1);
  h.ExpectAllEndedCorrectlyAndNoLeaks();
}

// ---- Prefix cache ----------------------------------------------------------

struct SharedPromptRun {
  int64_t prefill_tokens = 0;
  int64_t hit_tokens = 0;
  int64_t query_tokens = 0;
};

// 32 requests: a 64-token system prompt plus an 8-token question each.
SharedPromptRun RunSharedSystemPrompt(bool same_salt, bool first_alone,
                                      engine::kv::BlockHashFn hash = &engine::kv::HashBlockTokens) {
  Harness::Options o = Opts(512, 512);
  o.block_size = 16;
  o.hash = hash;
  Harness h(o);
  auto prompt = [](int32_t i) {
    std::vector<int32_t> p = Tokens(64, 1000);
    for (int32_t t : Tokens(8, 100 * i)) p.push_back(t);
    return p;
  };
  const uint64_t salt = 42;
  EXPECT_EQ(h.Add(0, prompt(0), 4, 0, same_salt ? salt : 1), AdmitResult::kAdmitted);
  if (first_alone) h.Step();  // its prompt is computed and cached
  for (int32_t i = 1; i < 32; ++i) {
    EXPECT_EQ(h.Add(i, prompt(i), 4, 0, same_salt ? salt : 1 + i), AdmitResult::kAdmitted);
  }
  EXPECT_TRUE(h.RunUntilIdle());
  h.ExpectAllEndedCorrectlyAndNoLeaks();
  const SchedulerStats s = h.scheduler().Snapshot();
  return {s.num_prefill_tokens, s.prefix_hit_tokens, s.prefix_query_tokens};
}

TEST(SchedulerTest, SharedSystemPromptHitsThePrefixCache) {
  const SharedPromptRun cached = RunSharedSystemPrompt(true, true);
  EXPECT_EQ(cached.hit_tokens, 31 * 64);
  EXPECT_EQ(cached.query_tokens, 32 * 72);
  EXPECT_EQ(cached.prefill_tokens, 72 + 31 * 8);

  // Submitted all at once: the first step's batch still misses (nothing is
  // computed yet); later admissions hit.
  const SharedPromptRun burst = RunSharedSystemPrompt(true, false);
  EXPECT_GT(burst.hit_tokens, 0);
  EXPECT_LT(burst.prefill_tokens, 32 * 72);
  EXPECT_EQ(burst.prefill_tokens + burst.hit_tokens, 32 * 72);
}

TEST(SchedulerTest, SaltsIsolateTenants) {
  const SharedPromptRun isolated = RunSharedSystemPrompt(false, true);
  EXPECT_EQ(isolated.hit_tokens, 0);
  EXPECT_EQ(isolated.prefill_tokens, 32 * 72);
}

uint64_t ConstantHash(uint64_t, uint64_t, std::span<const int32_t>) { return 7; }

// Every block hashes alike: nothing may be reused unless its content and
// chain are equal. The FakeModel would produce other tokens otherwise.
TEST(SchedulerTest, HashCollisionsNeverShareKv) {
  const SharedPromptRun collided = RunSharedSystemPrompt(true, true, &ConstantHash);
  EXPECT_EQ(collided.hit_tokens, 31 * 16);  // only one block can be cached per hash
  const SharedPromptRun other_tenants = RunSharedSystemPrompt(false, true, &ConstantHash);
  EXPECT_EQ(other_tenants.hit_tokens, 0);

  // Prompts that differ in their first block, or only in their second.
  struct Case {
    const char* name;
    int32_t differ_at;
  };
  for (const Case& c : {Case{"first block", 1}, Case{"second block", 5}}) {
    SCOPED_TRACE(c.name);
    Harness::Options o = Opts(64);
    o.hash = &ConstantHash;
    Harness h(o);
    std::vector<int32_t> a = Tokens(12);
    std::vector<int32_t> b = a;
    b[c.differ_at] = 999;
    ASSERT_EQ(h.Add(1, a, 3), AdmitResult::kAdmitted);
    ASSERT_TRUE(h.RunUntilIdle());
    ASSERT_EQ(h.Add(2, b, 3), AdmitResult::kAdmitted);
    ASSERT_EQ(h.Add(3, a, 3), AdmitResult::kAdmitted);
    ASSERT_TRUE(h.RunUntilIdle());
    h.ExpectAllEndedCorrectlyAndNoLeaks();
  }
}

// ---- n > 1 -----------------------------------------------------------------

TEST(SchedulerTest, SiblingsForkFromThePromptAndMatchRunsAlone) {
  struct Case {
    const char* name;
    int32_t prompt_len;
    int32_t num_blocks;
    int64_t want_copies;
  };
  const Case cases[] = {
      {"partial block is copied", 10, 64, 2},
      {"block-aligned prefix: nothing to copy", 9, 64, 0},
      {"no block for the second copy: it recomputes", 10, 4, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h(Opts(64, c.num_blocks));
    ASSERT_EQ(h.Add(1, Tokens(c.prompt_len), 5, 0, 0, /*n=*/3), AdmitResult::kAdmitted);
    ASSERT_TRUE(h.RunUntilIdle());
    int64_t copies = 0;
    for (const auto& rec : h.history()) copies += rec.num_block_copies;
    EXPECT_EQ(copies, c.want_copies);
    EXPECT_NE(h.output(1, 0), h.output(1, 1));
    h.ExpectAllEndedCorrectlyAndNoLeaks();
  }
}

TEST(SchedulerTest, SnapshotMeasuresStepTimeOnTheClock) {
  Harness h(Opts(64));
  ASSERT_EQ(h.Add(1, Tokens(5), 2), AdmitResult::kAdmitted);
  h.Step([&] { h.clock().Advance(std::chrono::milliseconds(3)); });
  h.Step([&] { h.clock().Advance(std::chrono::milliseconds(5)); });
  const SchedulerStats s = h.scheduler().Snapshot();
  EXPECT_EQ(s.last_step_time, std::chrono::milliseconds(5));
  EXPECT_EQ(s.total_step_time, std::chrono::milliseconds(8));
  EXPECT_EQ(s.num_steps, 2);
  EXPECT_DOUBLE_EQ(s.mean_tokens_per_step, 3.0);
  h.ExpectAllEndedCorrectlyAndNoLeaks();
}

// ---- Contract checks -------------------------------------------------------

TEST(SchedulerDeathTest, ScheduleTwiceWithoutUpdateCrashes) {
  Harness h(Opts(8));
  ASSERT_EQ(h.Add(1, Tokens(3), 2), AdmitResult::kAdmitted);
  StepPlan plan = h.scheduler().Schedule();
  EXPECT_DEATH(h.scheduler().Schedule(), "Update");
  h.scheduler().Update(plan, {{{plan.sequences[0].seq, 5, true}}});
}

TEST(SchedulerTest, ConfigValidation) {
  SchedulerConfig c;
  EXPECT_TRUE(ValidateSchedulerConfig(c).ok());
  c.max_batch_tokens = 0;
  EXPECT_FALSE(ValidateSchedulerConfig(c).ok());
  c = {};
  c.max_running_seqs = 0;
  EXPECT_FALSE(ValidateSchedulerConfig(c).ok());
}

}  // namespace
}  // namespace surge::scheduler
