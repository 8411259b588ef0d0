// Sessions: a conversation's KV stays pinned between turns (also under cache
// pressure and across a restart), per tenant, until it expires and is wiped.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/engine_test_util.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/session_file.h"
#include "engine/session_table.h"
#include "gtest/gtest.h"

namespace surge::engine {
namespace {

namespace fs = std::filesystem;

// Room for 48 blocks of 16 tokens: one context (512) plus a little, so a few
// unrelated prompts evict everything the plain prefix cache holds.
EngineConfig SmallCache() {
  EngineConfig c;
  c.kv_cache_bytes = 48LL * 2 * 6 * 6 * 16 * 48 * 2;
  c.max_running_seqs = 4;
  return c;
}

class SessionTest : public EngineTest {
 protected:
  Output Run(Engine& e, GenerationRequest r) {
    auto h = e.Submit(std::move(r));
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? Collect(*h, 1) : Output{};
  }
  // Unrelated prompts that fill the cache and evict unpinned blocks.
  void Pressure(Engine& e) {
    for (int i = 0; i < 4; ++i) Run(e, Req(300, 4, 900 + i));
  }
  // Turn 2 of a conversation: turn 1's prompt and reply, then a new message.
  static GenerationRequest NextTurn(const GenerationRequest& turn1, const Output& reply) {
    GenerationRequest r = Req(30, 12, 77, 0.0f);
    std::vector<int32_t> prompt = turn1.prompt;
    prompt.insert(prompt.end(), reply.tokens[0].begin(), reply.tokens[0].end());
    prompt.insert(prompt.end(), r.prompt.begin(), r.prompt.end());
    r.prompt = std::move(prompt);
    r.session_id = turn1.session_id;
    r.salt = turn1.salt;
    return r;
  }
  static GenerationRequest Turn1(const std::string& session, uint64_t salt = 0) {
    GenerationRequest r = Req(100, 20, 42, 0.0f);
    r.session_id = session;
    r.salt = salt;
    return r;
  }
  static EngineSnapshot WaitFor(Engine& e, auto pred) {
    for (int i = 0; i < 200; ++i) {
      EngineSnapshot s = e.Snapshot();
      if (pred(s)) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return e.Snapshot();
  }
  // 100 prompt + 19 computed reply tokens: 7 full blocks of 16.
  static constexpr int32_t kTurn1CachedTokens = 112;
};

TEST_F(SessionTest, NextTurnPrefillsOnlyTheNewMessageDespitePressure) {
  const GenerationRequest turn1 = Turn1("chat-1");
  auto e = MakeEngine(SmallCache());
  const Output reply = Run(*e, turn1);
  Pressure(*e);
  const GenerationRequest turn2 = NextTurn(turn1, reply);
  const Output out = Run(*e, turn2);
  EXPECT_GE(out.summary.cached_prompt_tokens, kTurn1CachedTokens);

  // Without a session the same pressure evicts the conversation.
  GenerationRequest plain1 = turn1;
  plain1.session_id.clear();
  plain1.salt = 5;  // a namespace of its own, so nothing above is reused
  auto e2 = MakeEngine(SmallCache());
  const Output plain_reply = Run(*e2, plain1);
  Pressure(*e2);
  GenerationRequest plain2 = NextTurn(plain1, plain_reply);
  plain2.session_id.clear();
  const Output plain_out = Run(*e2, plain2);
  EXPECT_EQ(plain_out.summary.cached_prompt_tokens, 0);

  // Reusing the pinned KV changes nothing in the output (batch invariance).
  EXPECT_EQ(plain_reply.tokens, reply.tokens);
  EXPECT_EQ(plain_out.tokens, out.tokens);
}

TEST_F(SessionTest, AnotherTenantCannotReachTheSession) {
  const GenerationRequest turn1 = Turn1("shared-id", /*salt=*/1);
  auto e = MakeEngine(SmallCache());
  const Output reply = Run(*e, turn1);
  GenerationRequest other = NextTurn(turn1, reply);
  other.salt = 2;
  EXPECT_EQ(Run(*e, other).summary.cached_prompt_tokens, 0);
  EXPECT_EQ(WaitFor(*e, [](const EngineSnapshot& x) { return x.num_sessions == 2; }).num_sessions,
            2);  // one per tenant
}

TEST_F(SessionTest, ExpiredSessionsReleaseTheirBlocks) {
  EngineConfig c = SmallCache();
  c.sessions.ttl = std::chrono::milliseconds(500);
  auto e = MakeEngine(c);
  Run(*e, Turn1("short-lived"));
  // The snapshot is refreshed after the step that ended the request.
  EngineSnapshot s = WaitFor(*e, [](const EngineSnapshot& x) { return x.num_sessions > 0; });
  EXPECT_EQ(s.num_sessions, 1);
  EXPECT_EQ(s.session_pinned_blocks, kTurn1CachedTokens / 16);
  s = WaitFor(*e, [](const EngineSnapshot& x) { return x.num_sessions == 0; });
  EXPECT_EQ(s.num_sessions, 0);
  EXPECT_EQ(s.session_pinned_blocks, 0);
  EXPECT_EQ(s.num_sessions_expired, 1);
}

TEST_F(SessionTest, SessionsSurviveARestart) {
  const fs::path dir = fs::temp_directory_path() / ("surge_sessions_" + std::to_string(getpid()));
  fs::remove_all(dir);
  EngineConfig c = SmallCache();
  c.sessions.dir = dir.string();
  const GenerationRequest turn1 = Turn1("persisted", 9);
  Output reply;
  {
    auto e = MakeEngine(c);
    reply = Run(*e, turn1);
    e->Stop();
  }
  ASSERT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  // A corrupt file next to it is rejected; the good one still loads.
  std::ofstream(dir / "0000000000000bad.session") << "SURGESES not really a session";

  auto e = MakeEngine(c);
  const EngineSnapshot s =
      WaitFor(*e, [](const EngineSnapshot& x) { return x.num_sessions_restored > 0; });
  EXPECT_EQ(s.num_sessions_restored, 1);
  const Output out = Run(*e, NextTurn(turn1, reply));
  EXPECT_GE(out.summary.cached_prompt_tokens, kTurn1CachedTokens);

  auto fresh = MakeEngine(SmallCache());  // the same turn computed from scratch
  GenerationRequest plain2 = NextTurn(turn1, reply);
  plain2.session_id.clear();
  EXPECT_EQ(Run(*fresh, plain2).tokens, out.tokens);
  fs::remove_all(dir);
}

TEST_F(SessionTest, PreloadedPromptIsCachedForTheFirstUser) {
  auto e = MakeEngine(SmallCache());
  GenerationRequest system = Req(96, 1, 5, 0.0f);
  system.preload = true;
  const Output pre = Run(*e, system);
  EXPECT_TRUE(pre.tokens[0].empty());  // a preload generates nothing
  EXPECT_EQ(pre.finish[0], FinishReason::kLength);
  Pressure(*e);
  GenerationRequest user = Req(20, 4, 6, 0.0f);
  user.prompt.insert(user.prompt.begin(), system.prompt.begin(), system.prompt.end());
  EXPECT_EQ(Run(*e, user).summary.cached_prompt_tokens, 96);
}

TEST_F(SessionTest, SessionNeedsOneSequence) {
  auto e = MakeEngine();
  GenerationRequest r = Turn1("n2");
  r.n = 2;
  EXPECT_EQ(e->Submit(r).status().code(), absl::StatusCode::kInvalidArgument);
}

// Below the Engine: an expired session's blocks are zeroed and forgotten.
TEST(SessionTableTest, ExpiryWipesAndForgetsBlocks) {
  const kv::KvCacheShape shape{2, 1, 8, 4, 8};
  kv::KvCache cache(shape);
  kv::KvCacheManager kv(shape.num_blocks, shape.block_size);
  SessionConfig config;
  config.ttl = std::chrono::seconds(1);
  SessionTable table(config, kv, cache, /*model_fingerprint=*/1, /*n_vocab=*/100);
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const base::SequenceId seq(1);
  ASSERT_TRUE(kv.Allocate(seq, 9, kv.FindCachedPrefix(tokens, 0)));
  const std::vector<int32_t> blocks(kv.BlockTable(seq).begin(), kv.BlockTable(seq).end());
  for (int layer = 0; layer < 2; ++layer) {
    std::fill_n(cache.k(layer), 8 * 4 * 8 * 2, uint8_t{0x3c});  // fp16 rows: 2 bytes a value
    std::fill_n(cache.v(layer), 8 * 4 * 8 * 2, uint8_t{0x3c});
  }
  kv.CommitFullBlocks(seq, tokens);
  const base::TimePoint t0{};
  table.Update(0, "s", seq, tokens, t0);
  kv.Free(seq);
  EXPECT_EQ(table.stats().num_pinned_blocks, 2);
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 8);

  table.Expire(t0 + std::chrono::seconds(2));
  EXPECT_EQ(table.stats().num_sessions, 0);
  EXPECT_EQ(kv.FindCachedPrefix(tokens, 0).num_tokens, 0);
  const std::vector<uint8_t> wiped = ReadBlocks(cache, {blocks[0], blocks[1]});
  ASSERT_FALSE(wiped.empty());
  EXPECT_TRUE(std::all_of(wiped.begin(), wiped.end(), [](uint8_t x) { return x == 0; }));
  const std::vector<uint8_t> kept = ReadBlocks(cache, {blocks[2]});  // partial: not pinned
  ASSERT_FALSE(kept.empty());
  EXPECT_TRUE(std::all_of(kept.begin(), kept.end(), [](uint8_t x) { return x == 0x3c; }));
}

TEST(SessionFileTest, RoundTripAndRejections) {
  const kv::KvCacheShape shape{2, 1, 8, 4, 8};
  SessionRecord r;
  r.salt = 7;
  r.id = "conversation";
  r.tokens = {1, 2, 3, 4, 5, 6, 7, 8};
  r.kv.resize(2 * 2 * 2 * 4 * 8 * 2);  // blocks, layers, K and V, slots, head_dim, fp16 bytes
  for (size_t i = 0; i < r.kv.size(); ++i) r.kv[i] = static_cast<uint8_t>(i * 7);
  const std::string bytes = SerializeSession(r, 11, shape);

  absl::StatusOr<SessionRecord> back = ParseSession(bytes, 11, shape, 100);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->salt, 7u);
  EXPECT_EQ(back->id, "conversation");
  EXPECT_EQ(back->tokens, r.tokens);
  EXPECT_EQ(back->kv, r.kv);

  EXPECT_EQ(ParseSession(bytes, 12, shape, 100).status().code(),
            absl::StatusCode::kFailedPrecondition);  // another model
  kv::KvCacheShape other = shape;
  other.block_size = 8;
  EXPECT_FALSE(ParseSession(bytes, 11, other, 100).ok());
  kv::KvCacheShape q8 = shape;  // the same dimensions, 8-bit rows
  q8.head_dim = 32;
  kv::KvCacheShape q8_f16 = q8;
  q8.type = kv::KvType::kQ8_0;
  SessionRecord r8 = r;
  r8.kv.resize(static_cast<size_t>(2 * 2 * 2 * 4 * q8.row_bytes()));
  const std::string bytes8 = SerializeSession(r8, 11, q8);
  ASSERT_TRUE(ParseSession(bytes8, 11, q8, 100).ok());
  EXPECT_EQ(ParseSession(bytes8, 11, q8_f16, 100).status().code(),
            absl::StatusCode::kFailedPrecondition);      // saved from a q8_0 cache, read by f16
  EXPECT_FALSE(ParseSession(bytes, 11, shape, 5).ok());  // token ids outside the vocabulary
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(ParseSession(bytes.substr(0, n), 11, shape, 100).ok()) << "truncated at " << n;
  }
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    EXPECT_FALSE(ParseSession(flipped, 11, shape, 100).ok()) << "flipped byte " << i;
  }
}

}  // namespace
}  // namespace surge::engine
