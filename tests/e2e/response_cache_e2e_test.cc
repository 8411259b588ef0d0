// The response cache end to end (the real binary, a tiny model): repeated
// deterministic requests are replayed (JSON and SSE), marked in `usage`,
// counted in the metrics; non-deterministic ones never are; and, under
// concurrent load, every cached answer is bitwise what a server without a
// cache computes for the same request.
#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;

constexpr char kModel[] = "surge-llama-tiny";

json Chat(const std::string& content, json extra = json::object()) {
  json r = {{"model", kModel},
            {"messages", {{{"role", "user"}, {"content", content}}}},
            {"max_tokens", 10},
            {"temperature", 0}};
  r.update(extra);
  return r;
}

bool Cached(const json& usage) {
  return usage.contains("surge_cached_response") && usage["surge_cached_response"] == true;
}

// The streamed text and the usage chunk of an SSE body.
std::pair<std::string, json> Streamed(const std::string& body) {
  std::string text;
  json usage;
  for (const std::string& d : SseData(body)) {
    if (d == "[DONE]") continue;
    json chunk = json::parse(d);
    if (chunk.contains("usage") && !chunk["usage"].is_null()) usage = chunk["usage"];
    for (const json& c : chunk["choices"]) {
      if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
    }
  }
  return {text, usage};
}

// What must be identical between a cached and a computed answer.
json Answer(const json& response) {
  json out = json::array();
  for (const json& c : response["choices"]) {
    out.push_back({c["index"], c.contains("message") ? c["message"]["content"] : c["text"],
                   c["finish_reason"], c["logprobs"]});
  }
  return out;
}

TEST(ResponseCacheE2eTest, RepeatsAreReplayedAsJsonAndSse) {
  ServeProcess server({"--response-cache-bytes", "1000000"});
  const std::string url = server.url("/v1/chat/completions");
  HttpResult first = Post(url, Chat("Tell me a story").dump());
  ASSERT_EQ(first.status, 200) << first.body;
  json r1 = json::parse(first.body);
  EXPECT_FALSE(Cached(r1["usage"]));

  HttpResult second = Post(url, Chat("Tell me a story").dump());
  ASSERT_EQ(second.status, 200);
  json r2 = json::parse(second.body);
  EXPECT_TRUE(Cached(r2["usage"])) << second.body;
  EXPECT_EQ(r2["usage"]["prompt_tokens_details"]["cached_tokens"], r2["usage"]["prompt_tokens"]);
  EXPECT_EQ(r2["usage"]["completion_tokens"], r1["usage"]["completion_tokens"]);
  EXPECT_EQ(Answer(r2), Answer(r1));
  EXPECT_NE(r2["id"], r1["id"]);  // a new response, an old answer

  // The same request streamed: replayed as SSE with the same text.
  HttpResult stream = Post(
      url,
      Chat("Tell me a story", {{"stream", true}, {"stream_options", {{"include_usage", true}}}})
          .dump());
  ASSERT_EQ(stream.status, 200);
  auto [text, usage] = Streamed(stream.body);
  EXPECT_EQ(text, r1["choices"][0]["message"]["content"]);
  EXPECT_TRUE(Cached(usage)) << stream.body;
  EXPECT_EQ(SseData(stream.body).back(), "[DONE]");

  // Sampling without a seed is not deterministic: never cached.
  for (int i = 0; i < 2; ++i) {
    HttpResult s = Post(url, Chat("Tell me a story", {{"temperature", 0.9}}).dump());
    EXPECT_FALSE(Cached(json::parse(s.body)["usage"]));
  }
  // With a seed it is.
  Post(url, Chat("Tell me a story", {{"temperature", 0.9}, {"seed", 7}}).dump());
  HttpResult seeded =
      Post(url, Chat("Tell me a story", {{"temperature", 0.9}, {"seed", 7}}).dump());
  EXPECT_TRUE(Cached(json::parse(seeded.body)["usage"]));

  const std::string metrics = Get(server.url("/metrics")).body;
  EXPECT_NE(metrics.find("surge:response_cache_hits_total 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("surge:response_cache_misses_total 2"), std::string::npos);
  EXPECT_EQ(metrics.find("surge:response_cache_bytes 0\n"), std::string::npos);
}

TEST(ResponseCacheE2eTest, OffByDefault) {
  ServeProcess server;
  const std::string url = server.url("/v1/chat/completions");
  Post(url, Chat("hello").dump());
  EXPECT_FALSE(Cached(json::parse(Post(url, Chat("hello").dump()).body)["usage"]));
}

TEST(ResponseCacheE2eTest, CachedAnswersEqualRecomputationUnderConcurrentLoad) {
  // A mix of greedy and seeded-sampling requests, with logprobs, chat and
  // completions, n = 1 and n = 2.
  std::vector<std::pair<std::string, json>> requests;
  for (int i = 0; i < 12; ++i) {
    json chat = Chat("question " + std::to_string(i),
                     {{"logprobs", true}, {"top_logprobs", 2}, {"max_tokens", 8 + i % 5}});
    if (i % 3 == 1) chat.update({{"temperature", 0.8}, {"seed", 100 + i}, {"n", 2}});
    requests.emplace_back("/v1/chat/completions", chat);
    json completion = {{"model", kModel}, {"prompt", "Once " + std::to_string(i)},
                       {"max_tokens", 9}, {"temperature", i % 2 ? 0.0 : 1.2},
                       {"seed", i},       {"logprobs", 3}};
    requests.emplace_back("/v1/completions", completion);
  }
  // Fires every request at once (plus background load that is not cached)
  // and returns the responses in request order.
  auto wave = [&](const ServeProcess& s) {
    std::vector<json> out(requests.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < requests.size(); ++i) {
      threads.emplace_back([&, i] {
        HttpResult r = Post(s.url(requests[i].first), requests[i].second.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        out[i] = json::parse(r.body, nullptr, false);
      });
    }
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        Post(s.url("/v1/completions"), json{{"model", kModel},
                                            {"prompt", "noise"},
                                            {"max_tokens", 40},
                                            {"temperature", 1.0},
                                            {"ignore_eos", true}}
                                           .dump());
      });
    }
    for (auto& t : threads) t.join();
    return out;
  };
  ServeProcess cached_server({"--response-cache-bytes", "4000000"});
  std::vector<json> computed = wave(cached_server);
  std::vector<json> replayed = wave(cached_server);
  ServeProcess plain_server;  // no cache: computes everything again
  std::vector<json> recomputed = wave(plain_server);
  int num_cached = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    SCOPED_TRACE(requests[i].second.dump());
    num_cached += Cached(replayed[i]["usage"]);
    EXPECT_FALSE(Cached(recomputed[i]["usage"]));
    EXPECT_EQ(Answer(replayed[i]), Answer(computed[i]));
    EXPECT_EQ(Answer(replayed[i]), Answer(recomputed[i]));
  }
  EXPECT_EQ(num_cached, static_cast<int>(requests.size()));
}

}  // namespace
}  // namespace surge::e2e
