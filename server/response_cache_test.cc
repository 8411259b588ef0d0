#include "server/response_cache.h"

#include "gtest/gtest.h"

namespace surge::server {
namespace {

openai::ChatRequest Chat(const std::string& content) {
  openai::ChatRequest r;
  r.model = "m";
  r.sampling.temperature = 0;
  r.messages.push_back({openai::Role::kUser, content, ""});
  return r;
}

std::shared_ptr<CachedResponse> Response(const std::string& text) {
  auto r = std::make_shared<CachedResponse>();
  openai::Choice d;
  d.text = text;
  d.finish = openai::FinishReason::kLength;
  r->deltas.push_back(d);
  r->prompt_tokens = 3;
  r->completion_tokens = 4;
  return r;
}

TEST(ResponseCacheKeyTest, OnlyDeterministicRequestsHaveKeys) {
  openai::ChatRequest r = Chat("hi");
  EXPECT_TRUE(ResponseCacheKey(r, "t", "f.gguf").has_value());
  r.sampling.temperature = 0.7f;
  EXPECT_FALSE(ResponseCacheKey(r, "t", "f.gguf").has_value());
  r.sampling.seed = 42;
  EXPECT_TRUE(ResponseCacheKey(r, "t", "f.gguf").has_value());
}

TEST(ResponseCacheKeyTest, EveryOutputFieldChangesTheKeyAndTransportFieldsDoNot) {
  const openai::ChatRequest base = Chat("hi");
  const std::string key = *ResponseCacheKey(base, "t", "f.gguf");
  // Each of these changes what the model would answer (or to whom).
  std::vector<std::function<void(openai::ChatRequest&)>> output_changes = {
      [](auto& r) { r.model = "m2"; },
      [](auto& r) { r.messages[0].content = "hi!"; },
      [](auto& r) { r.messages[0].role = openai::Role::kSystem; },
      [](auto& r) { r.messages[0].name = "bob"; },
      [](auto& r) {
        r.messages.push_back({openai::Role::kUser, "", ""});
      },
      [](auto& r) { r.add_generation_prompt = false; },
      [](auto& r) { r.sampling.max_tokens = 5; },
      [](auto& r) { r.sampling.top_p = 0.5f; },
      [](auto& r) { r.sampling.top_k = 3; },
      [](auto& r) { r.sampling.min_p = 0.1f; },
      [](auto& r) { r.sampling.presence_penalty = 0.5f; },
      [](auto& r) { r.sampling.frequency_penalty = 0.5f; },
      [](auto& r) { r.sampling.repetition_penalty = 1.1f; },
      [](auto& r) { r.sampling.n = 2; },
      [](auto& r) { r.sampling.stop = {"x"}; },
      [](auto& r) { r.sampling.seed = 1; },
      [](auto& r) { r.sampling.ignore_eos = true; },
      [](auto& r) { r.sampling.logprobs = true; },
      [](auto& r) { r.sampling.top_logprobs = 2; },
  };
  for (size_t i = 0; i < output_changes.size(); ++i) {
    openai::ChatRequest r = base;
    output_changes[i](r);
    EXPECT_NE(*ResponseCacheKey(r, "t", "f.gguf"), key) << "change " << i;
  }
  EXPECT_NE(*ResponseCacheKey(base, "u", "f.gguf"), key);  // another tenant
  EXPECT_NE(*ResponseCacheKey(base, "t", "g.gguf"), key);  // the name now points elsewhere
  // Transport only: the same answer.
  openai::ChatRequest r = base;
  r.stream = true;
  r.include_usage = true;
  r.user = "someone";
  r.priority = 3;
  r.keep_alive = std::chrono::milliseconds(5);
  EXPECT_EQ(*ResponseCacheKey(r, "t", "f.gguf"), key);
  // Lengths are part of the key: no two field splits collide.
  openai::ChatRequest a = Chat("ab"), b = Chat("a");
  a.messages[0].name = "";
  b.messages[0].name = "b";
  EXPECT_NE(*ResponseCacheKey(a, "t", "f.gguf"), *ResponseCacheKey(b, "t", "f.gguf"));
  // Completions: text and token ids are different prompts.
  openai::CompletionRequest text, ids;
  text.model = ids.model = "m";
  text.sampling.temperature = ids.sampling.temperature = 0;
  text.prompt = std::string("1");
  ids.prompt = std::vector<int32_t>{1};
  EXPECT_NE(*ResponseCacheKey(text, "t", "f.gguf"), *ResponseCacheKey(ids, "t", "f.gguf"));
}

TEST(ResponseCacheTest, HitsMissesAndLruEvictionByBytes) {
  const int64_t entry = ResponseCache::EntryBytes("k0", *Response("0123456789"));
  ResponseCache cache(3 * entry);
  EXPECT_EQ(cache.Lookup("k0"), nullptr);
  for (int i = 0; i < 3; ++i) cache.Insert("k" + std::to_string(i), Response("0123456789"));
  ASSERT_NE(cache.Lookup("k0"), nullptr);      // k0 is now the most recent
  cache.Insert("k3", Response("0123456789"));  // evicts k1, the least recent
  EXPECT_EQ(cache.Lookup("k1"), nullptr);
  EXPECT_NE(cache.Lookup("k0"), nullptr);
  EXPECT_NE(cache.Lookup("k2"), nullptr);
  std::shared_ptr<const CachedResponse> hit = cache.Lookup("k3");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->deltas[0].text, "0123456789");
  EXPECT_EQ(hit->completion_tokens, 4);
  ResponseCache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.bytes, 3 * entry);
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.hits, 4);
  EXPECT_EQ(s.misses, 2);
  // Too big for the whole cache: not kept, nothing evicted.
  cache.Insert("huge", Response(std::string(4 * entry, 'x')));
  EXPECT_EQ(cache.Lookup("huge"), nullptr);
  EXPECT_EQ(cache.stats().entries, 3);
}

TEST(ResponseCacheTest, DisabledCacheKeepsNothing) {
  ResponseCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.Insert("k", Response("x"));
  EXPECT_EQ(cache.Lookup("k"), nullptr);
  EXPECT_EQ(cache.stats().bytes, 0);
}

}  // namespace
}  // namespace surge::server
