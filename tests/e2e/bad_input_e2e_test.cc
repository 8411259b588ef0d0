// The bad-input table against the real server: each case gets the right
// status and an OpenAI-shaped error body, while a well-formed client running
// alongside sees no failure at all.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;

struct Case {
  const char* name;
  std::string path;
  std::string body;
  long status;
};

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::vector<Case> Cases() {
  const std::string chat = "/v1/chat/completions", comp = "/v1/completions";
  const std::string m = R"("model":"surge-llama-tiny")";
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  auto c = [&](const std::string& extra) { return "{" + m + "," + msgs + "," + extra + "}"; };
  auto p = [&](const std::string& extra) { return "{" + m + R"(,"prompt":"hi",)" + extra + "}"; };
  return {
      {"empty body", chat, "", 400},
      {"not json", chat, "hello", 400},
      {"truncated json", chat, R"({"model":"surge-llama-tiny","messages":[{"role":)", 400},
      {"json array", chat, "[1,2,3]", 400},
      {"json string", chat, "\"x\"", 400},
      {"trailing garbage", chat, "{" + m + "," + msgs + "} x", 400},
      {"missing model", chat, "{" + msgs + "}", 400},
      {"model not string", chat, R"({"model":5,)" + msgs + "}", 400},
      {"unknown model", chat, R"({"model":"gpt-9",)" + msgs + "}", 404},
      {"missing messages", chat, "{" + m + "}", 400},
      {"messages not array", chat, "{" + m + R"(,"messages":"hi"})", 400},
      {"empty messages", chat, "{" + m + R"(,"messages":[]})", 400},
      {"message not object", chat, "{" + m + R"(,"messages":[1]})", 400},
      {"unknown role", chat, "{" + m + R"(,"messages":[{"role":"wizard","content":"x"}]})", 400},
      {"content number", chat, "{" + m + R"(,"messages":[{"role":"user","content":7}]})", 400},
      {"image part", chat,
       "{" + m +
           R"(,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
       400},
      {"invalid utf-8", chat,
       "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", 400},
      {"too many messages", chat,
       "{" + m + ",\"messages\":[" + Repeat(R"({"role":"user","content":"x"},)", 2000) +
           R"({"role":"user","content":"x"}]})",
       400},
      {"max_tokens zero", chat, c(R"("max_tokens":0)"), 400},
      {"max_tokens negative", chat, c(R"("max_tokens":-5)"), 400},
      {"max_tokens huge", chat, c(R"("max_tokens":1e12)"), 400},
      {"max_tokens fraction", chat, c(R"("max_tokens":1.5)"), 400},
      {"max_tokens string", chat, c(R"("max_tokens":"10")"), 400},
      {"temperature negative", chat, c(R"("temperature":-1)"), 400},
      {"temperature huge", chat, c(R"("temperature":1e300)"), 400},
      {"temperature string", chat, c(R"("temperature":"hot")"), 400},
      {"top_p zero", chat, c(R"("top_p":0)"), 400},
      {"top_p above one", chat, c(R"("top_p":1.5)"), 400},
      {"min_p above one", chat, c(R"("min_p":2)"), 400},
      {"n zero", chat, c(R"("n":0)"), 400},
      {"n million", chat, c(R"("n":1000000)"), 400},
      {"presence penalty", chat, c(R"("presence_penalty":5)"), 400},
      {"frequency penalty", chat, c(R"("frequency_penalty":-3)"), 400},
      {"stop not string", chat, c(R"("stop":5)"), 400},
      {"too many stops", chat, c(R"("stop":["a","b","c","d","e"])"), 400},
      {"empty stop", chat, c(R"("stop":[""])"), 400},
      {"stream not bool", chat, c(R"("stream":"yes")"), 400},
      {"seed string", chat, c(R"("seed":"abc")"), 400},
      {"top_logprobs huge", chat, c(R"("logprobs":true,"top_logprobs":50)"), 400},
      {"logit_bias", chat, c(R"("logit_bias":{"5":10})"), 400},
      {"prompt over context", comp,
       "{" + m + R"(,"max_tokens":10,"prompt":")" + Repeat("hello ", 700) + "\"}", 400},
      {"prompt plus max_tokens over context", comp, p(R"("max_tokens":600)"), 400},
      {"prompt token out of vocab", comp, "{" + m + R"(,"prompt":[1,2,99999999]})", 400},
      {"prompt negative token", comp, "{" + m + R"(,"prompt":[-4]})", 400},
      {"prompt wrong type", comp, "{" + m + R"(,"prompt":{"a":1}})", 400},
      {"echo", comp, p(R"("echo":true)"), 400},
      {"completion logprobs too many", comp, p(R"("logprobs":9)"), 400},
      {"deep nesting", chat, Repeat("[", 5000) + Repeat("]", 5000), 400},
      {"detokenize bad id", "/detokenize", R"({"tokens":[1,-2]})", 400},
      {"tokenize wrong type", "/tokenize", R"({"prompt":5})", 400},
      {"unknown path", "/v1/embeddings", "{}", 404},
  };
}

TEST(BadInputE2eTest, EveryCaseGetsTheRightErrorWhileOthersAreServed) {
  const std::vector<Case> cases = Cases();
  ASSERT_GE(cases.size(), 40u);
  ServeProcess server({"--max-body-bytes", "1048576", "--read-timeout-ms", "1500"});
  std::atomic<bool> stop{false};
  std::atomic<int> good{0}, bad{0};
  std::jthread steady([&] {
    const std::string req =
        R"({"model":"surge-llama-tiny","messages":[{"role":"user","content":"steady"}],"max_tokens":4})";
    while (!stop) {
      HttpResult r = Post(server.url("/v1/chat/completions"), req);
      (r.status == 200 ? good : bad)++;
    }
  });

  for (const Case& c : cases) {
    HttpResult r = Post(server.url(c.path), c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body.substr(0, 300);
    json e = json::parse(r.body, nullptr, false);
    if (e.is_discarded() || !e.contains("error")) {
      ADD_FAILURE() << c.name << ": not an OpenAI error body: " << r.body.substr(0, 300);
      continue;
    }
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty()) << c.name;
    EXPECT_TRUE(e["error"].contains("type") && e["error"].contains("param") &&
                e["error"].contains("code"))
        << c.name;
  }

  // Transport-level abuse: an oversized body, a header flood, a body that
  // never finishes.
  HttpResult big = Post(server.url("/v1/chat/completions"), std::string(2 << 20, 'x'));
  EXPECT_EQ(big.status, 413);
  std::vector<std::string> flood;
  for (int i = 0; i < 300; ++i) flood.push_back("X-Flood-" + std::to_string(i) + ": y");
  EXPECT_EQ(Post(server.url("/v1/chat/completions"), "{}", flood).status, 431);
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const std::string head =
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":";
    EXPECT_GT(write(fd, head.data(), head.size()), 0);
    timeval limit{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    char buf[2048];
    const ssize_t n = read(fd, buf, sizeof(buf));  // the server gives up after its read timeout
    EXPECT_GT(n, 0);
    const std::string reply = n > 0 ? std::string(buf, n) : "";
    EXPECT_NE(reply.find(" 408 "), std::string::npos) << reply;
    close(fd);
  }

  stop = true;
  steady.join();
  EXPECT_GT(good.load(), 0);
  EXPECT_EQ(bad.load(), 0) << "a well-formed client saw failures during the bad-input table";
  EXPECT_EQ(Get(server.url("/health")).status, 200);
}

}  // namespace
}  // namespace surge::e2e
