// A storm against the real server: many clients at once send a random mix of
// completions and chats (streamed or not, n up to 3, sampled or greedy, stop
// strings, logprobs, priorities), hang up mid-stream, and send bad input,
// over a KV cache small enough that the scheduler preempts and a queue short
// enough that it sheds load. Throughout, fixed "probe" requests must return
// exactly what they returned alone on the idle server: no request sees
// another's context and none depends on the batch it lands in.
//
// Afterwards the server must be idle with every KV block back, answer the
// probes the same again, and exit 0 on SIGTERM (under ASan, that includes
// LeakSanitizer's check at exit).
//
// `make test` runs a short storm; `make stress` sets SURGE_STRESS_SECONDS.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;

constexpr char kModel[] = "surge-llama-tiny";

int StormSeconds() {
  const char* s = std::getenv("SURGE_STRESS_SECONDS");
  return s != nullptr && std::atoi(s) > 0 ? std::atoi(s) : 5;
}

// The value of an unlabelled series in a Prometheus text page; -1 if absent.
double Metric(const std::string& page, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = page.find(key);
  return at == std::string::npos ? -1 : std::stod(page.substr(at + key.size()));
}

// A request whose answer is known: greedy, or sampled with a fixed seed.
struct Probe {
  json body;
  std::string expected;  // the text it produced alone
};

std::vector<Probe> MakeProbes() {
  std::vector<Probe> probes;
  const std::vector<std::string> prompts = {
      "Once upon a time",
      "The quick brown fox jumps over the lazy dog, and then",
      "In the beginning",
      std::string(60, 'a') + " and a long prompt that spans several KV blocks " +
          std::string(40, 'z'),
  };
  for (size_t i = 0; i < prompts.size(); ++i) {
    json greedy = {{"model", kModel},
                   {"prompt", prompts[i]},
                   {"max_tokens", 20},
                   {"temperature", 0},
                   {"ignore_eos", true}};
    probes.push_back({greedy, ""});
    json sampled = greedy;
    sampled["temperature"] = 0.9;
    sampled["top_p"] = 0.95;
    sampled["seed"] = 1000 + static_cast<int>(i);
    probes.push_back({sampled, ""});
  }
  return probes;
}

// The text of choice 0 of a completion, streamed or not; "" with `error` set
// when the body is not a well-formed answer. A chat stream is checked the
// same way (every event JSON without an error, ending in [DONE]).
std::string CompletionText(const HttpResult& r, bool stream, std::string* error) {
  if (!stream) {
    const json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("choices") || j["choices"].empty()) {
      *error = "not a completion: " + r.body.substr(0, 300);
      return "";
    }
    return j["choices"][0]["text"].get<std::string>();
  }
  std::string text;
  const std::vector<std::string> events = SseData(r.body);
  if (events.empty() || events.back() != "[DONE]") {
    *error = "stream did not end with [DONE]: " + r.body.substr(0, 300);
    return "";
  }
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json j = json::parse(events[i], nullptr, false);
    if (!j.is_object() || j.contains("error")) {
      *error = "bad stream event: " + events[i].substr(0, 300);
      return "";
    }
    if (j.contains("choices") && !j["choices"].empty() && j["choices"][0]["index"] == 0) {
      text += j["choices"][0].value("text", "");
    }
  }
  return text;
}

bool IsOpenAiError(const HttpResult& r) {
  const json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") && j["error"].is_object() &&
         j["error"].contains("message") && j["error"]["message"].is_string() &&
         j["error"].contains("type") && j["error"]["type"].is_string();
}

class Storm {
 public:
  Storm(const ServeProcess& server, std::vector<Probe> probes)
      : server_(server), probes_(std::move(probes)) {}

  void Client(uint32_t seed, std::chrono::steady_clock::time_point until) {
    std::mt19937 rng(seed);
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution(lo, hi)(rng); };
    while (std::chrono::steady_clock::now() < until) {
      const int kind = uniform(0, 99);
      long status = 0;
      if (kind < 25) {
        status = SendProbe(probes_[uniform(0, static_cast<int>(probes_.size()) - 1)],
                           uniform(0, 1) == 1);
      } else if (kind < 55) {
        status = SendRandom(rng, /*chat=*/false);
      } else if (kind < 75) {
        status = SendRandom(rng, /*chat=*/true);
      } else if (kind < 87) {
        json body = {{"model", kModel}, {"prompt", "Hang up on me"}, {"max_tokens", 64},
                     {"stream", true},  {"ignore_eos", true},        {"temperature", 0}};
        PostAndHangUp(server_.url("/v1/completions"), body.dump());
        Count("hang-up", 0);
      } else {
        status = SendBad(uniform(0, 5));
      }
      // Refused for load: back off a little, as a client honouring
      // Retry-After would, so the storm stays mostly served work.
      if (status == 429 || status == 503) {
        std::this_thread::sleep_for(std::chrono::milliseconds(uniform(100, 300)));
      }
    }
  }

  // Every failure seen (at most 20 kept), and how many requests ended how.
  std::vector<std::string> failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }
  std::map<std::string, int> outcomes() const {
    std::lock_guard lock(mu_);
    return outcomes_;
  }
  int num_failures() const {
    std::lock_guard lock(mu_);
    return num_failures_;
  }
  int probes_compared() const { return probes_compared_.load(); }

 private:
  void Fail(const std::string& what) {
    std::lock_guard lock(mu_);
    ++num_failures_;
    if (failures_.size() < 20) failures_.push_back(what);
  }
  void Count(const std::string& kind, long status) {
    std::lock_guard lock(mu_);
    ++outcomes_[kind + " " + std::to_string(status)];
  }

  // Load shedding (429 full queue, 503) is an allowed answer to anything.
  bool Shed(const HttpResult& r, const std::string& kind) {
    if (r.status != 429 && r.status != 503) return false;
    if (!IsOpenAiError(r)) Fail(kind + ": shed without an OpenAI error body: " + r.body);
    return true;
  }

  long SendProbe(const Probe& p, bool stream) {
    json body = p.body;
    body["stream"] = stream;
    const HttpResult r = Post(server_.url("/v1/completions"), body.dump());
    Count(stream ? "probe-stream" : "probe", r.status);
    if (Shed(r, "probe")) return r.status;
    if (r.status != 200) {
      Fail("probe: status " + std::to_string(r.status) + " " + r.body);
      return r.status;
    }
    std::string error;
    const std::string text = CompletionText(r, stream, &error);
    if (!error.empty()) {
      Fail("probe: " + error);
      return r.status;
    }
    ++probes_compared_;
    if (text != p.expected) {
      Fail("probe " + p.body.dump() + (stream ? " (streamed)" : "") + " gave '" + text +
           "', alone it gave '" + p.expected + "'");
    }
    return r.status;
  }

  long SendRandom(std::mt19937& rng, bool chat) {
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution(lo, hi)(rng); };
    const std::vector<std::string> words = {"the", "king", "said", "unto", "them", "and",
                                            "lo",  "a",    "fox",  "ran",  "far",  "away"};
    std::string prompt;
    for (int i = uniform(1, 60); i > 0; --i) prompt += words[uniform(0, 11)] + " ";
    const int n = uniform(0, 4) == 0 ? uniform(2, 3) : 1;
    const int max_tokens = uniform(1, 40);
    const bool stream = uniform(0, 1) == 1;
    json body = {{"model", kModel}, {"max_tokens", max_tokens}, {"n", n}, {"stream", stream}};
    if (chat) {
      body["messages"] = {{{"role", "system"}, {"content", "Be brief."}},
                          {{"role", "user"}, {"content", prompt}}};
    } else {
      body["prompt"] = prompt;
    }
    body["temperature"] = uniform(0, 2) == 0 ? 0.0 : uniform(1, 15) / 10.0;
    if (uniform(0, 2) == 0) body["top_k"] = uniform(1, 50);
    if (uniform(0, 2) == 0) body["min_p"] = 0.05;
    if (uniform(0, 3) == 0) body["stop"] = json::array({"the", "\n"});
    if (uniform(0, 3) == 0) body["priority"] = uniform(-2, 2);
    if (uniform(0, 3) == 0) body["ignore_eos"] = true;
    if (!chat && uniform(0, 4) == 0) body["logprobs"] = 2;
    const std::string kind = std::string(chat ? "chat" : "completion") + (stream ? "-stream" : "");
    const HttpResult r =
        Post(server_.url(chat ? "/v1/chat/completions" : "/v1/completions"), body.dump());
    Count(kind, r.status);
    if (!Shed(r, kind)) CheckAnswer(kind, body, r);
    return r.status;
  }

  // A 200 with a well-formed body: every stream event JSON and no error,
  // ending in [DONE]; a whole answer with n choices, each finished by stop
  // or length, within max_tokens.
  void CheckAnswer(const std::string& kind, const json& body, const HttpResult& r) {
    if (r.status != 200) {
      return Fail(kind + ": status " + std::to_string(r.status) + " for " + body.dump() + ": " +
                  r.body);
    }
    if (body["stream"].get<bool>()) {
      std::string error;
      CompletionText(r, /*stream=*/true, &error);
      if (!error.empty()) Fail(kind + ": " + error);
      return;
    }
    const int n = body["n"].get<int>();
    const json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("choices") || j["choices"].size() != static_cast<size_t>(n)) {
      return Fail(kind + ": expected " + std::to_string(n) + " choices: " + r.body.substr(0, 300));
    }
    for (const json& c : j["choices"]) {
      const std::string reason = c.value("finish_reason", "");
      if (reason != "stop" && reason != "length") {
        return Fail(kind + ": finish_reason '" + reason + "': " + r.body.substr(0, 300));
      }
    }
    if (j["usage"]["completion_tokens"].get<int>() > n * body["max_tokens"].get<int>()) {
      return Fail(kind + ": more tokens than max_tokens: " + r.body.substr(0, 300));
    }
  }

  long SendBad(int which) {
    struct Bad {
      const char* name;
      std::string body;
      long status;
    };
    std::string too_long;
    for (int i = 0; i < 1500; ++i) too_long += "word ";
    const Bad bad[] = {
        {"bad-json", "{\"model\": \"surge-llama-tiny\", \"prompt\": ", 400},
        {"bad-type", json{{"model", kModel}, {"prompt", "x"}, {"max_tokens", "many"}}.dump(), 400},
        {"bad-model", json{{"model", "no-such-model"}, {"prompt", "x"}}.dump(), 404},
        {"bad-n", json{{"model", kModel}, {"prompt", "x"}, {"n", 99}}.dump(), 400},
        {"too-long", json{{"model", kModel}, {"prompt", too_long}, {"max_tokens", 4}}.dump(), 400},
        {"bad-temperature", json{{"model", kModel}, {"prompt", "x"}, {"temperature", -1}}.dump(),
         400},
    };
    const Bad& b = bad[which];
    const HttpResult r = Post(server_.url("/v1/completions"), b.body);
    Count(b.name, r.status);
    if (r.status == 429 || r.status == 503) return r.status;  // shed before it was read
    if (r.status != b.status || !IsOpenAiError(r)) {
      Fail(std::string(b.name) + ": expected " + std::to_string(b.status) +
           " with an error body, got " + std::to_string(r.status) + " " + r.body.substr(0, 300));
    }
    return r.status;
  }

  const ServeProcess& server_;
  const std::vector<Probe> probes_;
  mutable std::mutex mu_;
  std::vector<std::string> failures_;
  int num_failures_ = 0;
  std::map<std::string, int> outcomes_;
  std::atomic<int> probes_compared_{0};
};

TEST(ServerStressTest, StormOfMixedRequestsLosesNothingAndChangesNoAnswer) {
  // Tiny's K/V take 6912 bytes a token: 4 MB holds about 36 blocks of 16
  // tokens, far less than 16 running sequences want, so the scheduler
  // preempts; 4 queued requests at most, so bursts are shed with 429.
  ServeProcess server({"--kv-cache-bytes", "4000000", "--max-running-seqs", "16",
                       "--max-queued-requests", "4", "--max-batch-tokens", "128"});
  ASSERT_NE(server.port(), 0);

  std::vector<Probe> probes = MakeProbes();
  for (Probe& p : probes) {  // alone, on the idle server
    const HttpResult r = Post(server.url("/v1/completions"), p.body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    std::string error;
    p.expected = CompletionText(r, false, &error);
    ASSERT_TRUE(error.empty()) << error;
  }

  const int seconds = StormSeconds();
  Storm storm(server, probes);
  {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    std::vector<std::jthread> clients;
    for (uint32_t c = 0; c < 24; ++c) {
      clients.emplace_back([&storm, c, until] { storm.Client(7919 * (c + 1), until); });
    }
  }

  std::map<std::string, int> outcomes = storm.outcomes();
  std::string summary;
  int answered = 0, shed = 0;
  for (const auto& [k, v] : outcomes) {
    summary += "  " + k + ": " + std::to_string(v) + "\n";
    if (k.ends_with(" 200")) answered += v;
    if (k.ends_with(" 429")) shed += v;
  }
  std::cout << "storm of " << seconds << " s:\n" << summary;
  EXPECT_EQ(storm.num_failures(), 0) << "the first 20 follow";
  for (const std::string& f : storm.failures()) ADD_FAILURE() << f;
  EXPECT_GT(storm.probes_compared(), 0) << summary;
  EXPECT_GT(answered, 24) << summary;
  EXPECT_GT(shed, 0) << "24 clients against 16 running and 4 queued must be shed at times\n"
                     << summary;

  // Idle again, every block back.
  std::string page;
  for (int i = 0; i < 600; ++i) {
    page = Get(server.url("/metrics")).body;
    if (Metric(page, "vllm:num_requests_running") == 0 &&
        Metric(page, "vllm:num_requests_waiting") == 0 &&
        Metric(page, "vllm:kv_cache_usage_perc") == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Metric(page, "vllm:num_requests_running"), 0) << page;
  EXPECT_EQ(Metric(page, "vllm:num_requests_waiting"), 0) << page;
  EXPECT_EQ(Metric(page, "vllm:kv_cache_usage_perc"), 0) << page;
  // The storm must have done what it is for.
  EXPECT_GT(Metric(page, "vllm:num_preemptions_total"), 0) << page;
  EXPECT_EQ(Get(server.url("/health")).status, 200);

  for (const Probe& p : probes) {  // alone again: the same
    const HttpResult r = Post(server.url("/v1/completions"), p.body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    std::string error;
    EXPECT_EQ(CompletionText(r, false, &error), p.expected) << p.body.dump();
  }
  EXPECT_EQ(server.SignalAndWait(SIGTERM), 0) << server.Log().substr(0, 4000);
}

}  // namespace
}  // namespace surge::e2e
