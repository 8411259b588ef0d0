// `surge serve` end to end: the real binary on port 0, a tiny model, libcurl
// as the client. Covers the API surface, errors in OpenAI's shape, many
// concurrent streams with correct output, disconnects and SIGTERM drain.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/cli.h"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;

constexpr char kModel[] = "surge-llama-tiny";

json Chat(const std::string& content, int max_tokens, bool stream = false) {
  return {{"model", kModel},
          {"messages", {{{"role", "user"}, {"content", content}}}},
          {"max_tokens", max_tokens},
          {"temperature", 0},
          {"stream", stream}};
}

// The text of a streamed chat or completion response, and whether it ended
// with [DONE] after a finish_reason.
std::pair<std::string, bool> StreamText(const std::string& body) {
  std::string text;
  bool finished = false, done = false;
  for (const std::string& d : SseData(body)) {
    if (d == "[DONE]") {
      done = true;
      continue;
    }
    json chunk = json::parse(d, nullptr, false);
    if (chunk.is_discarded() || chunk.contains("error")) return {text, false};
    for (const json& c : chunk["choices"]) {
      if (c.contains("delta") && c["delta"].contains("content")) text += c["delta"]["content"];
      if (c.contains("text")) text += c["text"];
      if (!c["finish_reason"].is_null()) finished = true;
    }
  }
  return {text, finished && done};
}

class ServeE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServeProcess({"--max-queued-requests", "2000"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServeProcess* server_;
};
ServeProcess* ServeE2eTest::server_ = nullptr;

TEST_F(ServeE2eTest, HealthModelsAndMetrics) {
  HttpResult h = Get(server_->url("/health"));
  EXPECT_EQ(h.status, 200);
  HttpResult m = Get(server_->url("/v1/models"));
  ASSERT_EQ(m.status, 200);
  json models = json::parse(m.body);
  EXPECT_EQ(models["data"][0]["id"], kModel);
  HttpResult metrics = Get(server_->url("/metrics"));
  ASSERT_EQ(metrics.status, 200);
  for (const char* name : {"vllm:num_requests_running", "vllm:num_requests_waiting",
                           "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket",
                           "process_resident_memory_bytes", "process_cpu_seconds_total"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
}

TEST_F(ServeE2eTest, ChatCompletionAndStreamAgree) {
  HttpResult whole = Post(server_->url("/v1/chat/completions"), Chat("Tell me a story", 12).dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  json r = json::parse(whole.body);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["completion_tokens"], 12);
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 4);

  json req = Chat("Tell me a story", 12, true);
  req["stream_options"] = {{"include_usage", true}};
  HttpResult streamed = Post(server_->url("/v1/chat/completions"), req.dump());
  ASSERT_EQ(streamed.status, 200);
  auto [text, complete] = StreamText(streamed.body);
  EXPECT_TRUE(complete) << streamed.body;
  // Greedy and batch-invariant: the stream says exactly what the JSON said.
  EXPECT_EQ(text, r["choices"][0]["message"]["content"]);
  std::vector<std::string> data = SseData(streamed.body);
  ASSERT_GE(data.size(), 3u);
  json usage = json::parse(data[data.size() - 2]);
  EXPECT_EQ(usage["usage"]["completion_tokens"], 12);
  // The second identical prompt found its full blocks in the prefix cache.
  EXPECT_GT(usage["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 0);
}

TEST_F(ServeE2eTest, CompletionsWithStopAndSeveralChoices) {
  json req = {
      {"model", kModel}, {"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}};
  json full = json::parse(Post(server_->url("/v1/completions"), req.dump()).body);
  const std::string text = full["choices"][0]["text"];
  ASSERT_GT(text.size(), 10u);
  req["stop"] = {text.substr(6, 3)};
  json cut = json::parse(Post(server_->url("/v1/completions"), req.dump()).body);
  EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(cut["choices"][0]["text"], text.substr(0, text.find(text.substr(6, 3))));

  json multi = {{"model", kModel}, {"prompt", "Hello"},  {"max_tokens", 5},
                {"n", 3},          {"temperature", 1.0}, {"seed", 42}};
  HttpResult m = Post(server_->url("/v1/completions"), multi.dump());
  ASSERT_EQ(m.status, 200) << m.body;
  json mr = json::parse(m.body);
  ASSERT_EQ(mr["choices"].size(), 3u);
  EXPECT_EQ(mr["usage"]["completion_tokens"], 15);
  // Seeded: the same request gives the same three texts.
  json again = json::parse(Post(server_->url("/v1/completions"), multi.dump()).body);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(mr["choices"][i]["text"], again["choices"][i]["text"]);
}

TEST_F(ServeE2eTest, ErrorsHaveOpenAiShape) {
  struct Case {
    std::string path, body;
    long status;
    std::string code;
  } cases[] = {
      {"/v1/chat/completions", "{not json", 400, ""},
      {"/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"x"}]})",
       404, "model_not_found"},
      {"/v1/chat/completions", R"({"model":"surge-llama-tiny","messages":[]})", 400, ""},
      {"/v1/completions", R"({"model":"surge-llama-tiny","prompt":"x","max_tokens":5000})", 400,
       "context_length_exceeded"},
      {"/v1/completions", R"({"model":"surge-llama-tiny","prompt":"x","n":1000000})", 400, ""},
      {"/v1/completions", R"({"model":"surge-llama-tiny","prompt":"x","temperature":-1})", 400, ""},
      {"/v1/nothing", "{}", 404, ""},
  };
  for (const Case& c : cases) {
    HttpResult r = Post(server_->url(c.path), c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    json e = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << r.body;
    ASSERT_TRUE(e.contains("error")) << r.body;
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(e["error"].contains("type"));
    if (!c.code.empty()) {
      EXPECT_EQ(e["error"]["code"], c.code) << r.body;
    }
  }
  // The server is still fine.
  EXPECT_EQ(Post(server_->url("/v1/chat/completions"), Chat("ok?", 2).dump()).status, 200);
}

TEST_F(ServeE2eTest, ManyConcurrentStreamsAllCompleteCorrectly) {
  // Expected outputs, one request at a time.
  constexpr int kDistinct = 8;
  std::vector<std::string> expected(kDistinct);
  for (int i = 0; i < kDistinct; ++i) {
    HttpResult r = Post(server_->url("/v1/chat/completions"),
                        Chat("question number " + std::to_string(i), 10).dump());
    expected[i] = json::parse(r.body)["choices"][0]["message"]["content"];
  }
  constexpr int kClients = 96;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpResult r =
          Post(server_->url("/v1/chat/completions"),
               Chat("question number " + std::to_string(c % kDistinct), 10, true).dump());
      auto [text, complete] = StreamText(r.body);
      if (r.status == 200 && complete && text == expected[c % kDistinct]) ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients);
}

TEST_F(ServeE2eTest, FiveHundredConcurrentStreams) {
  // 500 clients stream at once (one thread each); every one completes with
  // exactly the text the same prompt gives alone.
  constexpr int kDistinct = 5, kClients = 500;
  std::vector<std::string> expected(kDistinct);
  for (int i = 0; i < kDistinct; ++i) {
    HttpResult r =
        Post(server_->url("/v1/chat/completions"), Chat("crowd " + std::to_string(i), 6).dump());
    expected[i] = json::parse(r.body)["choices"][0]["message"]["content"];
  }
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpResult r = Post(server_->url("/v1/chat/completions"),
                          Chat("crowd " + std::to_string(c % kDistinct), 6, true).dump(), {}, 300);
      auto [text, complete] = StreamText(r.body);
      if (r.status == 200 && complete && text == expected[c % kDistinct]) ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients);
}

TEST_F(ServeE2eTest, DisconnectCancelsTheRequest) {
  const std::string before = Get(server_->url("/metrics")).body;
  // A long streaming request whose client hangs up at the first chunk.
  json req = {{"model", kModel},
              {"prompt", "x"},
              {"max_tokens", 480},
              {"ignore_eos", true},
              {"stream", true}};
  EXPECT_GT(PostAndHangUp(server_->url("/v1/completions"), req.dump()), 0u);
  // Within a few steps the engine has dropped it and nothing runs.
  std::string m;
  for (int i = 0; i < 100; ++i) {
    m = Get(server_->url("/metrics")).body;
    if (m.find("vllm:num_requests_running 0") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(m.find("vllm:num_requests_running 0"), std::string::npos) << m;
  EXPECT_EQ(m.find("surge:requests_cancelled_total 0"), std::string::npos);
  EXPECT_NE(m.find("surge:requests_cancelled_total"), std::string::npos);
  // It stopped early: far fewer than 480 tokens were generated for it.
  auto generated_in = [](const std::string& text) {
    const std::string key = "\nvllm:generation_tokens_total ";
    const size_t at = text.find(key);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
  };
  const double generated = generated_in(m);
  ASSERT_GE(generated, 0);
  EXPECT_LT(generated - generated_in(before), 480);
}

TEST(ServeE2eKvTest, EightBitKvCacheServesChatAndStreams) {
  // tiny with 9 heads (32 wide): --kv-type q8_0 holds K/V in 8-bit rows.
  const std::string model = ServeProcess::MakeModel("heads9", 21, "--heads 9");
  ServeProcess server({"--model", "tiny9=" + model, "--kv-type", "q8_0"}, 0,
                      /*with_default_model=*/false);
  json req = Chat("Tell me a story", 24);
  req["model"] = "tiny9";
  req["ignore_eos"] = true;
  HttpResult whole = Post(server.url("/v1/chat/completions"), req.dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json body = json::parse(whole.body);
  EXPECT_EQ(body["usage"]["completion_tokens"], 24);
  req["stream"] = true;
  HttpResult streamed = Post(server.url("/v1/chat/completions"), req.dump());
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  auto [text, complete] = StreamText(streamed.body);
  EXPECT_TRUE(complete);
  // Greedy, the same cache type: streaming changes nothing.
  EXPECT_EQ(text, body["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_NE(server.Log().find("(q8_0 rows)"), std::string::npos) << server.Log();
}

TEST(ServeE2eKvTest, AModelThatCannotLoadStopsTheStartNotALaterRequest) {
  // Named models load on first use, but serve reads their headers at start:
  // tiny's heads are 48 wide, which a q8_0 KV cache cannot hold.
  const CliOutput kv =
      RunSurge("serve --port 0 --model lazy=" + ServeProcess::ModelPath() + " --kv-type q8_0",
               /*merge_stderr=*/true, /*timeout_s=*/60);
  EXPECT_NE(kv.exit_code, 0) << kv.text;
  EXPECT_NE(kv.text.find("model 'lazy'"), std::string::npos) << kv.text;
  EXPECT_NE(kv.text.find("multiple of 32"), std::string::npos) << kv.text;
  // A file that is not GGUF, the same.
  const std::string junk = ::testing::TempDir() + "surge_not_a_model.gguf";
  std::ofstream(junk) << "this is not a model";
  const CliOutput bad = RunSurge("serve --port 0 --model junk=" + junk, /*merge_stderr=*/true, 60);
  std::filesystem::remove(junk);
  EXPECT_NE(bad.exit_code, 0) << bad.text;
  EXPECT_NE(bad.text.find("model 'junk'"), std::string::npos) << bad.text;
}

TEST(ServeE2eAuthTest, ApiKeyIsRequired) {
  ServeProcess server({"--api-key", "sekret"});
  HttpResult none = Post(server.url("/v1/chat/completions"), Chat("hi", 2).dump());
  EXPECT_EQ(none.status, 401);
  HttpResult wrong = Post(server.url("/v1/chat/completions"), Chat("hi", 2).dump(),
                          {"Authorization: Bearer nope"});
  EXPECT_EQ(wrong.status, 401);
  HttpResult right = Post(server.url("/v1/chat/completions"), Chat("hi", 2).dump(),
                          {"Authorization: Bearer sekret"});
  EXPECT_EQ(right.status, 200) << right.body;
  EXPECT_EQ(Get(server.url("/health")).status, 200);  // probes need no key
}

TEST(ServeE2eDrainTest, SigtermFinishesInFlightWorkAndExitsZero) {
  ServeProcess server;
  HttpResult result;
  std::thread client([&] {
    json req = {{"model", kModel}, {"prompt", "x"}, {"max_tokens", 60}, {"ignore_eos", true}};
    result = Post(server.url("/v1/completions"), req.dump());
  });
  // Until the request holds the model (a fixed sleep raced a loaded host:
  // the signal could land before the request did).
  bool holding = false;
  for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
       !holding && std::chrono::steady_clock::now() < deadline;) {
    holding = Get(server.url("/metrics"))
                  .body.find(std::string("surge:model_requests_in_flight{model=\"") + kModel +
                             "\"} 1") != std::string::npos;
    if (!holding) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(holding) << "the request never reached the model";
  EXPECT_EQ(server.SignalAndWait(SIGTERM), 0) << server.Log();
  client.join();
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(json::parse(result.body)["usage"]["completion_tokens"], 60);
}

}  // namespace
}  // namespace surge::e2e
