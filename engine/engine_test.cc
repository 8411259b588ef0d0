// The Engine end to end on a real tiny model: concurrency, batch invariance
// through the scheduler, cancellation, admission, stop strings, n > 1.
#include "engine/engine.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_test_util.h"
#include "gtest/gtest.h"

namespace surge::engine {
namespace {

TEST_F(EngineTest, ConcurrentRequestsMatchRunningAlone) {
  // 24 requests of mixed lengths and priorities at once, with a small KV
  // cache and step budget so they batch, chunk and preempt.
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 24; ++i) reqs.push_back(Req(5 + 13 * i % 90, 8 + i % 17, 100 + i));
  std::vector<Output> alone;
  {
    auto e = MakeEngine();
    for (const GenerationRequest& r : reqs) {
      auto h = e->Submit(r);
      ASSERT_TRUE(h.ok());
      alone.push_back(Collect(*h, 1));
    }
  }
  EngineConfig tight;
  tight.max_batch_tokens = 64;
  tight.kv_cache_bytes = 40 * 16 * 2 * 6 * 6 * 48 * 2;  // 40 blocks of 16 tokens: forces preemption
  auto e = MakeEngine(tight);
  std::vector<RequestHandle> handles;
  for (size_t i = 0; i < reqs.size(); ++i) {
    GenerationRequest r = reqs[i];
    r.priority = static_cast<int32_t>(i % 3);
    auto h = e->Submit(r);
    ASSERT_TRUE(h.ok()) << h.status();
    handles.push_back(*h);
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    Output got = Collect(handles[i], 1);
    EXPECT_EQ(got.terminal_events, 1);
    EXPECT_EQ(got.finish[0], FinishReason::kLength);
    EXPECT_EQ(got.tokens[0], alone[i].tokens[0]) << "request " << i;
    EXPECT_EQ(got.text[0], alone[i].text[0]);
    EXPECT_EQ(got.summary.completion_tokens, reqs[i].max_tokens);
  }
  EngineSnapshot snap = e->Snapshot();
  EXPECT_GT(snap.num_preemptions, 0) << "the tight KV cache should have forced preemption";
}

TEST_F(EngineTest, AnAcceptedRequestIsNeverRefusedLaterForPreemptedOnes) {
  // The queue bound is two requests, and the KV cache is so small that the
  // running ones keep preempting each other back into the waiting queue. A
  // request Submit accepts must still run to its end: the bound is for new
  // requests (refused at once, a 429 upstream), never for preempted ones.
  EngineConfig tight;
  tight.max_batch_tokens = 48;
  tight.max_running_seqs = 16;
  tight.max_queued_requests = 2;
  const int64_t block_bytes = 2LL * 6 * 6 * 16 * 48 * 2;  // tiny: layers, KV heads, slots, width
  tight.kv_cache_bytes = 36 * block_bytes;
  auto e = MakeEngine(tight);
  std::vector<RequestHandle> accepted;
  std::vector<int> n;
  int refused = 0;
  // Bounded by time, not attempts: under ASan a request runs many times longer.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  for (int i = 0; accepted.size() < 60 && std::chrono::steady_clock::now() < deadline; ++i) {
    GenerationRequest r = Req(20 + i % 50, 60, 500 + i);
    r.n = 1 + i % 2;
    absl::StatusOr<RequestHandle> h = e->Submit(r);
    if (h.ok()) {
      accepted.push_back(*h);
      n.push_back(r.n);
    } else {
      EXPECT_EQ(h.status().code(), absl::StatusCode::kResourceExhausted) << h.status();
      ++refused;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ASSERT_EQ(accepted.size(), 60u) << "the engine accepted too few requests in 240 s";
  for (size_t i = 0; i < accepted.size(); ++i) {
    Output got = Collect(accepted[i], n[i]);
    for (int s = 0; s < n[i]; ++s) {
      EXPECT_EQ(got.finish[s], FinishReason::kLength) << "request " << i << " sequence " << s;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(e->Snapshot().num_preemptions, 0);
}

TEST_F(EngineTest, CancelEndsTheRequestOnce) {
  auto e = MakeEngine();
  auto h = e->Submit(Req(20, 400, 1));
  ASSERT_TRUE(h.ok());
  // Wait for the first token, then cancel.
  auto first = h->stream->Next(absl::Seconds(60));
  ASSERT_TRUE(first && first->event);
  e->Cancel(h->id);
  Output rest = Collect(*h, 1);
  EXPECT_EQ(rest.terminal_events, 1);
  EXPECT_EQ(rest.finish[0], FinishReason::kCancelled);
  EXPECT_LT(rest.summary.completion_tokens, 400);
}

TEST_F(EngineTest, AdmissionRejectsAtOnce) {
  EngineConfig c;
  c.max_queued_requests = 2;
  auto e = MakeEngine(c);
  auto too_long = e->Submit(Req(500, 100, 1));
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("512"), absl::string_view::npos);
  std::vector<RequestHandle> accepted;
  int rejected = 0;
  for (int i = 0; i < 50; ++i) {
    auto h = e->Submit(Req(200, 4, i));
    if (h.ok()) {
      accepted.push_back(*h);
    } else {
      EXPECT_EQ(h.status().code(), absl::StatusCode::kResourceExhausted);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  for (const RequestHandle& h : accepted) EXPECT_EQ(Collect(h, 1).terminal_events, 1);
}

TEST_F(EngineTest, StopStringsCutTheOutput) {
  auto e = MakeEngine();
  GenerationRequest r = Req(10, 24, 5, 0.0f);
  Output full = Collect(*e->Submit(r), 1);
  ASSERT_GT(full.text[0].size(), 12u);
  // Stop on a piece of the greedy output: the text ends right before it.
  const std::string stop = full.text[0].substr(8, 4);
  r.stop_strings = {stop};
  Output cut = Collect(*e->Submit(r), 1);
  EXPECT_EQ(cut.finish[0], FinishReason::kStop);
  EXPECT_EQ(cut.text[0], full.text[0].substr(0, full.text[0].find(stop)));
}

TEST_F(EngineTest, SeveralSequencesPerRequest) {
  auto e = MakeEngine();
  GenerationRequest r = Req(30, 12, 11);
  r.n = 3;
  Output out = Collect(*e->Submit(r), 3);
  EXPECT_EQ(out.terminal_events, 3);
  EXPECT_EQ(out.summary.completion_tokens, 36);
  // Sequence i samples with seed + i: each equals a single run with that seed.
  for (int i = 0; i < 3; ++i) {
    GenerationRequest one = r;
    one.n = 1;
    one.sampling.seed = r.sampling.seed + i;
    EXPECT_EQ(Collect(*e->Submit(one), 1).tokens[0], out.tokens[i]) << "sequence " << i;
  }
}

TEST_F(EngineTest, SharedPrefixIsServedFromTheCache) {
  // 32 requests share a 160-token system prompt and differ in the last token.
  auto e = MakeEngine();
  GenerationRequest system = Req(160, 2, 9);
  Collect(*e->Submit(system), 1);  // warms the cache
  const int64_t computed_before = e->Snapshot().prompt_tokens;
  std::vector<RequestHandle> handles;
  for (int i = 0; i < 32; ++i) {
    GenerationRequest r = system;
    r.prompt.push_back(1000 + i);
    handles.push_back(*e->Submit(r));
  }
  int cached = 0;
  for (const RequestHandle& h : handles) cached += Collect(h, 1).summary.cached_prompt_tokens;
  EXPECT_EQ(cached, 32 * 160);  // all 10 full blocks of the shared prompt, every time
  const int64_t computed = e->Snapshot().prompt_tokens - computed_before;
  EXPECT_LE(computed, 32 * 2) << "only the tokens after the shared blocks are computed";
  EXPECT_GE(e->Snapshot().prefix_hit_tokens, 32 * 160);
}

TEST_F(EngineTest, RandomizedStressKeepsEveryInvariant) {
  // Random arrivals, lengths, priorities, n, sampling and cancellations
  // against a KV cache small enough to force preemption. Invariants: one
  // terminal event per sequence and one summary per request; every sequence
  // that ran to its end equals the same request run alone; a cancelled one
  // is a prefix of it; afterwards no block is in use.
  std::mt19937 rng(2026);
  auto uniform = [&](int lo, int hi) { return lo + static_cast<int>(rng() % (hi - lo + 1)); };
  constexpr int kRequests = 40;
  std::vector<GenerationRequest> reqs;
  std::vector<int> cancel_after_ms(kRequests, -1);
  for (int i = 0; i < kRequests; ++i) {
    GenerationRequest r =
        Req(uniform(4, 200), uniform(1, 60), 1000 + i, uniform(0, 1) ? 0.0f : 0.8f);
    r.n = uniform(0, 4) == 0 ? 2 : 1;
    r.priority = uniform(0, 2);
    reqs.push_back(r);
    if (uniform(0, 3) == 0) cancel_after_ms[i] = uniform(0, 150);
  }
  std::vector<Output> alone;
  {
    auto e = MakeEngine();
    for (const GenerationRequest& r : reqs) alone.push_back(Collect(*e->Submit(r), r.n));
  }

  EngineConfig tight;
  tight.max_batch_tokens = 48;
  tight.max_running_seqs = 8;
  const int64_t block_bytes = 2LL * 6 * 6 * 16 * 48 * 2;  // tiny: layers, KV heads, slots, width
  tight.kv_cache_bytes = 36 * block_bytes;
  auto e = MakeEngine(tight);
  std::vector<RequestHandle> handles(kRequests);
  std::vector<std::thread> cancellers;
  for (int i = 0; i < kRequests; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(uniform(0, 15)));
    auto h = e->Submit(reqs[i]);
    ASSERT_TRUE(h.ok()) << h.status();
    handles[i] = *h;
    if (cancel_after_ms[i] >= 0) {
      cancellers.emplace_back([&e, id = h->id, ms = cancel_after_ms[i]] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        e->Cancel(id);
      });
    }
  }
  for (int i = 0; i < kRequests; ++i) {
    Output got = Collect(handles[i], reqs[i].n);
    EXPECT_EQ(got.terminal_events, reqs[i].n) << "request " << i;
    for (int s = 0; s < reqs[i].n; ++s) {
      const std::vector<int32_t>& want = alone[i].tokens[s];
      if (got.finish[s] == FinishReason::kCancelled) {
        ASSERT_LE(got.tokens[s].size(), want.size());
        EXPECT_TRUE(std::equal(got.tokens[s].begin(), got.tokens[s].end(), want.begin()))
            << "request " << i << " sequence " << s;
      } else {
        EXPECT_EQ(got.finish[s], alone[i].finish[s]);
        EXPECT_EQ(got.tokens[s], want) << "request " << i << " sequence " << s;
      }
    }
  }
  for (std::thread& t : cancellers) t.join();
  EngineSnapshot snap;
  for (int i = 0; i < 100; ++i) {
    snap = e->Snapshot();
    if (snap.num_running == 0 && snap.num_waiting == 0 && snap.kv_usage == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(snap.num_running, 0);
  EXPECT_EQ(snap.num_waiting, 0);
  EXPECT_EQ(snap.kv_usage, 0) << "KV blocks leaked";
  EXPECT_GT(snap.num_preemptions, 0);
}

}  // namespace
}  // namespace surge::engine
