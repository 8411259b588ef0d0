#include "router/policy.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "router/prefix_index.h"
#include "router/request_info.h"

namespace surge::router {
namespace {

const std::vector<std::string> kNames = {"10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"};

std::vector<Candidate> Candidates(std::vector<int64_t> loads) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < loads.size(); ++i) c.push_back({kNames[i], loads[i]});
  return c;
}

std::vector<uint64_t> Chain(const std::string& text, size_t blocks = 8) {
  return PrefixHashes(text, "", {.block_bytes = 16, .max_blocks = blocks});
}

TEST(PolicyTest, MakePolicyKnowsEveryName) {
  for (const char* name : {"prefix", "least-load", "p2c", "round-robin"}) {
    absl::StatusOr<std::unique_ptr<Policy>> p = MakePolicy(name, {});
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ((*p)->name(), name);
  }
  absl::StatusOr<std::unique_ptr<Policy>> bad = MakePolicy("random", {});
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
}

TEST(PolicyTest, RoundRobinCycles) {
  auto p = MakeRoundRobinPolicy();
  std::vector<Candidate> c = Candidates({5, 0, 9});
  std::vector<size_t> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(p->Pick({}, c).index);
  EXPECT_EQ(picks, std::vector<size_t>({0, 1, 2, 0, 1, 2}));
}

TEST(PolicyTest, LeastLoadPicksTheMinimumAndSpreadsTies) {
  auto p = MakeLeastLoadPolicy();
  EXPECT_EQ(p->Pick({}, Candidates({4, 1, 3})).index, 1u);
  std::map<size_t, int> count;
  for (int i = 0; i < 30; ++i) ++count[p->Pick({}, Candidates({2, 2, 2})).index];
  EXPECT_EQ(count, (std::map<size_t, int>{{0, 10}, {1, 10}, {2, 10}}));
}

TEST(PolicyTest, PowerOfTwoNeverPicksTheMostLoaded) {
  auto p = MakePowerOfTwoPolicy(/*seed=*/7);
  std::map<size_t, int> count;
  for (int i = 0; i < 3000; ++i) ++count[p->Pick({}, Candidates({0, 5, 10})).index];
  EXPECT_EQ(count[2], 0);
  EXPECT_NEAR(count[0], 2000, 150);  // in 2 of the 3 pairs
  EXPECT_NEAR(count[1], 1000, 150);
  EXPECT_EQ(p->Pick({}, Candidates({3})).index, 0u);
}

TEST(PrefixPolicyTest, SamePrefixSticksToOneReplica) {
  auto p = MakePrefixPolicy({});
  const std::vector<uint64_t> chain = Chain(std::string(200, 's'));
  std::vector<Candidate> c = Candidates({0, 0, 0});
  RouteDecision first = p->Pick(chain, c);
  EXPECT_EQ(first.reason, "prefix_new");
  p->OnRouted(chain, c[first.index].name);
  for (int i = 0; i < 10; ++i) {
    c[first.index].outstanding = 1;  // a little busier than the others is fine
    RouteDecision d = p->Pick(chain, c);
    EXPECT_EQ(d.index, first.index);
    EXPECT_EQ(d.reason, "prefix_hit");
  }
}

// New prefixes are placed by their first block, so prompts that differ there
// spread over the replicas.
TEST(PrefixPolicyTest, NewPrefixesSpreadOverReplicas) {
  auto p = MakePrefixPolicy({});
  std::map<size_t, int> count;
  for (int i = 0; i < 300; ++i) {
    ++count[p->Pick(Chain(std::to_string(i) + " is the number of this system prompt"),
                    Candidates({0, 0, 0}))
                .index];
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_GT(count[i], 60) << i;
}

TEST(PrefixPolicyTest, LongestSharedPrefixWins) {
  auto p = MakePrefixPolicy({});
  const std::string system(64, 'S');
  const std::vector<uint64_t> a = Chain(system + std::string(64, 'a'));
  const std::vector<uint64_t> b = Chain(system + std::string(64, 'b'));
  p->OnRouted(std::vector<uint64_t>(a.begin(), a.begin() + 4), kNames[0]);  // system prompt only
  p->OnRouted(b, kNames[2]);                                                // system + b
  RouteDecision d = p->Pick(b, Candidates({0, 0, 0}));
  EXPECT_EQ(d.index, 2u);
  // A request sharing only the system prompt: both hold 4 blocks; the less
  // loaded wins.
  const std::vector<uint64_t> c = Chain(system + std::string(64, 'c'));
  EXPECT_EQ(p->Pick(c, Candidates({2, 0, 1})).index, 2u);
  EXPECT_EQ(p->Pick(c, Candidates({1, 0, 2})).index, 0u);
}

TEST(PrefixPolicyTest, LoadBoundSpillsAHotPrefix) {
  auto p = MakePrefixPolicy({.load_factor = 0.25, .load_slack = 1});
  const std::vector<uint64_t> chain = Chain(std::string(200, 'h'));
  p->OnRouted(chain, kNames[1]);
  // mean 4, limit 1.25 * 4 + 1 = 6: outstanding 7 is over it.
  RouteDecision d = p->Pick(chain, Candidates({2, 7, 3}));
  EXPECT_NE(d.index, 1u);
  EXPECT_EQ(d.reason, "prefix_spill");
  // At the limit it still gets the request.
  EXPECT_EQ(p->Pick(chain, Candidates({3, 6, 3})).index, 1u);
}

TEST(PrefixPolicyTest, ForgetDropsWhatWasLearned) {
  auto p = MakePrefixPolicy({});
  const std::vector<uint64_t> chain = Chain(std::string(200, 'f'));
  p->OnRouted(chain, kNames[0]);
  EXPECT_EQ(p->Pick(chain, Candidates({0, 0, 0})).reason, "prefix_hit");
  p->Forget(kNames[0]);
  EXPECT_EQ(p->Pick(chain, Candidates({0, 0, 0})).reason, "prefix_new");
}

TEST(PrefixPolicyTest, ShortPromptsGoToTheLeastLoaded) {
  auto p = MakePrefixPolicy({});
  RouteDecision d = p->Pick({}, Candidates({3, 1, 2}));
  EXPECT_EQ(d.index, 1u);
  EXPECT_EQ(d.reason, "no_prefix");
}

TEST(PrefixIndexTest, LruEvictsTheOldestBlocksFirst) {
  PrefixIndex index(/*blocks_per_replica=*/8);
  const std::vector<uint64_t> a = Chain(std::string(128, 'a'));  // 8 blocks
  const std::vector<uint64_t> b = Chain(std::string(64, 'b'));   // 4 blocks
  index.Record(kNames[0], a);
  std::vector<Candidate> c = Candidates({0});
  EXPECT_EQ(index.MatchLengths(c, a)[0], 8u);
  index.Record(kNames[0], b);
  EXPECT_EQ(index.num_blocks(kNames[0]), 8u);
  EXPECT_EQ(index.MatchLengths(c, b)[0], 4u);
  // a's deepest blocks left first; its root is still there.
  EXPECT_EQ(index.MatchLengths(c, a)[0], 4u);
  EXPECT_EQ(index.MatchLengths(Candidates({0, 0}), a)[1], 0u);
}

}  // namespace
}  // namespace surge::router
