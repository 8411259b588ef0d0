// Weighted fair queuing across tenants (WaitingQueue): table-driven, on the
// scheduler harness with one running slot, so the order in which requests
// start is the order in which the queue chose them.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "scheduler/scheduler.h"
#include "scheduler/scheduler_test_harness.h"

namespace surge::scheduler {
namespace {

using testing::Harness;
using testing::Tokens;

struct Arrival {
  int64_t id;
  uint64_t tenant;
  double weight = 1.0;
  int32_t priority = 0;
};

struct Phase {
  int steps_before = 0;  // engine steps to run before these arrivals
  std::vector<Arrival> arrivals;
};

struct Case {
  const char* name;
  std::vector<Phase> phases;
  std::vector<int64_t> want_order;  // of first scheduling
};

// Every request: a 3-token prompt and 2 generated tokens, so 4 tokens are
// computed for each (3 prefill, 1 decode).
std::vector<int64_t> RunOrder(const Case& c) {
  Harness::Options o;
  o.config.max_batch_tokens = 64;
  o.config.max_running_seqs = 1;
  Harness h(o);
  for (const Phase& phase : c.phases) {
    for (int i = 0; i < phase.steps_before && !h.scheduler().idle(); ++i) h.Step();
    for (const Arrival& a : phase.arrivals) {
      Request r;
      r.id = base::RequestId(a.id);
      r.prompt = Tokens(3, static_cast<int32_t>(11 * a.id));
      r.max_tokens = 2;
      r.priority = a.priority;
      r.tenant = a.tenant;
      r.weight = a.weight;
      EXPECT_EQ(h.Add(std::move(r)), AdmitResult::kAdmitted) << a.id;
    }
  }
  EXPECT_TRUE(h.RunUntilIdle());
  h.ExpectAllEndedCorrectlyAndNoLeaks();
  std::vector<int64_t> order;
  for (const auto& rec : h.history()) {
    for (const testing::Scheduled& s : rec.sequences) {
      if (std::find(order.begin(), order.end(), s.request) == order.end()) {
        order.push_back(s.request);
      }
    }
  }
  return order;
}

TEST(FairShareTest, TenantsShareAdmissionsByWeight) {
  constexpr uint64_t A = 7, B = 9;
  const Case cases[] = {
      {"one tenant is FCFS", {{0, {{1, A}, {2, A}, {3, A}}}}, {1, 2, 3}},
      {"equal tenants alternate",
       {{0, {{1, A}, {2, A}, {3, A}, {4, B}, {5, B}, {6, B}}}},
       {1, 4, 2, 5, 3, 6}},
      {"weight 2 gets two turns per turn of weight 1",
       {{0,
         {{1, A, 2},
          {2, A, 2},
          {3, A, 2},
          {4, A, 2},
          {5, A, 2},
          {6, A, 2},
          {7, B},
          {8, B},
          {9, B}}}},
       {1, 7, 2, 3, 8, 4, 5, 9, 6}},
      {"a backlogged tenant does not starve a newcomer",
       {{0, {{1, A}, {2, A}, {3, A}, {4, A}, {5, A}}}, {2, {{6, B}}}},
       {1, 6, 2, 3, 4, 5}},
      {"an idle tenant banks no credit",
       {{0, {{1, A}, {2, A}, {3, A}, {4, A}}}, {100, {{5, A}, {6, A}, {7, B}, {8, B}}}},
       {1, 2, 3, 4, 7, 5, 8, 6}},
      {"priority comes before fair share",
       {{0, {{1, A}, {2, A}, {3, A}, {4, B, 1.0, 1}, {5, B, 1.0, 1}}}},
       {1, 2, 3, 4, 5}},
      {"tenant 0 (no tenant) is a tenant like any other",
       {{0, {{1, 0}, {2, 0}, {3, A}, {4, A}}}},
       {1, 3, 2, 4}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(RunOrder(c), c.want_order);
  }
}

TEST(FairShareTest, RunningDecodesCountAgainstTheTenant) {
  // B was served 9 tokens earlier. A then runs a request with a 3-token
  // prompt and 20 generated tokens while A and B each queue one more. Were
  // only prompts counted, A (3) would go before B (9); its decodes count
  // too (22), so B goes first.
  Harness::Options o;
  o.config.max_batch_tokens = 64;
  o.config.max_running_seqs = 1;
  Harness h(o);
  auto add = [&](int64_t id, uint64_t tenant, int32_t prompt_len, int32_t max_tokens) {
    Request r;
    r.id = base::RequestId(id);
    r.prompt = Tokens(prompt_len, static_cast<int32_t>(id));
    r.max_tokens = max_tokens;
    r.tenant = tenant;
    return h.Add(std::move(r));
  };
  ASSERT_EQ(add(10, 2, 8, 2), AdmitResult::kAdmitted);
  ASSERT_TRUE(h.RunUntilIdle());
  ASSERT_EQ(add(1, 1, 3, 20), AdmitResult::kAdmitted);
  h.Step();
  ASSERT_EQ(add(2, 1, 3, 2), AdmitResult::kAdmitted);
  ASSERT_EQ(add(3, 2, 3, 2), AdmitResult::kAdmitted);
  ASSERT_TRUE(h.RunUntilIdle());
  std::vector<int64_t> order;
  for (const auto& rec : h.history()) {
    for (const testing::Scheduled& s : rec.sequences) {
      if (std::find(order.begin(), order.end(), s.request) == order.end()) {
        order.push_back(s.request);
      }
    }
  }
  EXPECT_EQ(order, (std::vector<int64_t>{10, 1, 3, 2}));
  h.ExpectAllEndedCorrectlyAndNoLeaks();
}

TEST(FairShareTest, ALightTenantsPromptDoesNotWaitBehindAHeavyTenantsChunks) {
  // Budget 8 per step. Tenant 1's 30-token prompt is being computed in
  // chunks when a 6-token prompt arrives. From another tenant, it goes into
  // the very next step, and that step carries no other tenant's prompt
  // tokens (a short step: the first token comes soon); from the same tenant,
  // it waits (running chunks first, as without tenants).
  for (uint64_t second_tenant : {2u, 1u}) {
    SCOPED_TRACE(second_tenant == 1 ? "same tenant" : "two tenants");
    Harness::Options o;
    o.config.max_batch_tokens = 8;
    Harness h(o);
    auto add = [&](int64_t id, uint64_t tenant, int32_t prompt_len) {
      Request r;
      r.id = base::RequestId(id);
      r.prompt = Tokens(prompt_len, static_cast<int32_t>(100 * id));
      r.max_tokens = 2;
      r.tenant = tenant;
      return h.Add(std::move(r));
    };
    ASSERT_EQ(add(1, 1, 30), AdmitResult::kAdmitted);
    h.Step();
    ASSERT_EQ(add(2, second_tenant, 6), AdmitResult::kAdmitted);
    const testing::StepRecord step2 = h.Step();
    const std::vector<testing::Scheduled> fair = {{2, 6}};
    const std::vector<testing::Scheduled> fcfs = {{1, 8}};
    EXPECT_EQ(step2.sequences, second_tenant == 2 ? fair : fcfs);
    ASSERT_TRUE(h.RunUntilIdle());
    h.ExpectAllEndedCorrectlyAndNoLeaks();
  }
}

TEST(FairShareTest, TenantsAtParShareAStepsPromptTokens) {
  // Three newcomers at the same virtual time: their prompts share the first
  // step (a burst of light tenants is not serialized one step each).
  Harness::Options o;
  o.config.max_batch_tokens = 64;
  Harness h(o);
  for (int64_t id = 1; id <= 3; ++id) {
    Request r;
    r.id = base::RequestId(id);
    r.prompt = Tokens(6, static_cast<int32_t>(100 * id));
    r.max_tokens = 2;
    r.tenant = static_cast<uint64_t>(id);
    ASSERT_EQ(h.Add(std::move(r)), AdmitResult::kAdmitted);
  }
  const testing::StepRecord step1 = h.Step();
  EXPECT_EQ(step1.sequences, (std::vector<testing::Scheduled>{{1, 6}, {2, 6}, {3, 6}}));
  ASSERT_TRUE(h.RunUntilIdle());
  h.ExpectAllEndedCorrectlyAndNoLeaks();
}

TEST(FairShareTest, NonPositiveWeightIsRefused) {
  Harness h(Harness::Options{});
  for (double w : {0.0, -1.0}) {
    Request r;
    r.id = base::RequestId(1);
    r.prompt = Tokens(3, 0);
    r.weight = w;
    EXPECT_EQ(h.Add(std::move(r)), AdmitResult::kInvalid) << w;
  }
}

TEST(FairShareTest, VirtualTimeIsTokensOverWeightAndPrunes) {
  WaitingQueue q;
  q.Charge(1, 2.0, 10);
  q.Charge(2, 1.0, 10);
  EXPECT_DOUBLE_EQ(q.virtual_time(1), 5.0);
  EXPECT_DOUBLE_EQ(q.virtual_time(2), 10.0);
  EXPECT_DOUBLE_EQ(q.virtual_time(3), 0.0);  // unknown: the queue's clock
  for (uint64_t t = 100; t < 5000; ++t) q.Charge(t, 1.0, 1);
  EXPECT_GT(q.num_tracked_tenants(), 4000u);
  // Choosing tenant 2 (the only one waiting) moves the clock to 10: every
  // tenant at or below it carries no information any more and may go.
  Sequence seq;
  seq.tenant = 2;
  seq.tokens = {1, 2, 3};
  q.PushBack(&seq);
  EXPECT_EQ(q.Next(), &seq);
  EXPECT_DOUBLE_EQ(q.virtual_time(1), 10.0);
  EXPECT_DOUBLE_EQ(q.virtual_time(150), 10.0);
  // 4000 more one-off tenants: the map is pruned as it grows, so it holds
  // only the tenants ahead of the clock (2 and the new ones), not all 8902.
  for (uint64_t t = 5000; t < 9000; ++t) q.Charge(t, 1.0, 1);
  EXPECT_LE(q.num_tracked_tenants(), 4001u);
  EXPECT_DOUBLE_EQ(q.virtual_time(1), 10.0);
  EXPECT_DOUBLE_EQ(q.virtual_time(2), 10.0);
  EXPECT_DOUBLE_EQ(q.virtual_time(8999), 11.0);
  q.Remove(&seq);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace surge::scheduler
