// `surge route` end to end: a real router process in front of three real
// `surge serve` replicas on a tiny model, all on loopback. A replica killed
// with SIGKILL under load costs no request, comes back into rotation when
// restarted on its port, and a stream it was serving ends with an SSE error
// event rather than a hang.
#include <curl/curl.h>
#include <signal.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/route_fixture.h"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kModel[] = "surge-llama-tiny";

std::string ChatBody(const std::string& content, int max_tokens, bool stream = false) {
  return json{{"model", kModel},          {"messages", {{{"role", "user"}, {"content", content}}}},
              {"max_tokens", max_tokens}, {"temperature", 0},
              {"ignore_eos", true},       {"stream", stream}}
      .dump();
}

std::string HeaderValue(const HttpResult& r, const std::string& name) {
  for (const std::string& line : r.headers) {
    if (line.size() > name.size() + 1 && line[name.size()] == ':' &&
        strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
      std::string v = line.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      return v;
    }
  }
  return "";
}

std::string NameOf(const ServeProcess& s) { return "127.0.0.1:" + std::to_string(s.port()); }

// Replicas in rotation according to the router's /health.
int InRotation(const RouteProcess& router) {
  HttpResult h = Get(router.url("/health"));
  json j = json::parse(h.body, nullptr, false);
  if (j.is_discarded() || !j.contains("replicas")) return -1;
  int n = 0;
  for (const json& r : j["replicas"]) n += r["in_rotation"].get<bool>() ? 1 : 0;
  return n;
}

bool WaitForRotation(const RouteProcess& router, int n, seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (InRotation(router) == n) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

class RouteE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) replicas_.push_back(std::make_unique<ServeProcess>());
    std::vector<std::string> args = {"--health-interval-ms", "200", "--eject-base-ms", "300",
                                     "--eject-max-ms",       "1000"};
    for (const auto& r : replicas_) {
      args.push_back("--replica");
      args.push_back("http://" + NameOf(*r));
    }
    router_ = std::make_unique<RouteProcess>(args);
    ASSERT_TRUE(WaitForRotation(*router_, 3, seconds(30))) << router_->Log();
  }

  std::vector<std::unique_ptr<ServeProcess>> replicas_;
  std::unique_ptr<RouteProcess> router_;
};

TEST_F(RouteE2eTest, KillingAReplicaUnderLoadLosesNoRequestAndItComesBack) {
  constexpr int kRequests = 200;
  constexpr int kConcurrency = 16;
  std::atomic<int> next{0}, finished{0};
  std::mutex mu;
  std::map<std::string, int> served;
  std::vector<std::string> failures;
  auto worker = [&] {
    for (int i = next++; i < kRequests; i = next++) {
      HttpResult r = Post(router_->url("/v1/chat/completions"),
                          ChatBody("request number " + std::to_string(i) + " asks", 8), {}, 60);
      std::lock_guard lock(mu);
      if (!r.ok || r.status != 200) {
        failures.push_back(std::to_string(r.status) + " " + r.body);
      } else {
        ++served[HeaderValue(r, "X-Surge-Replica")];
      }
      ++finished;
    }
  };
  std::vector<std::jthread> workers;
  for (int i = 0; i < kConcurrency; ++i) workers.emplace_back(worker);
  while (finished < kRequests / 4) std::this_thread::sleep_for(milliseconds(5));
  ServeProcess& victim = *replicas_[1];
  const int victim_port = victim.port();
  const std::string victim_name = NameOf(victim);
  EXPECT_EQ(victim.SignalAndWait(SIGKILL), 128 + SIGKILL);
  workers.clear();  // joins

  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(finished.load(), kRequests);
  EXPECT_GT(served[victim_name], 0) << "the victim served nothing before it died";
  EXPECT_TRUE(WaitForRotation(*router_, 2, seconds(10)));

  // Restarted on its port, it rejoins the rotation and gets traffic again.
  replicas_[1] = std::make_unique<ServeProcess>(std::vector<std::string>{}, victim_port);
  ASSERT_TRUE(WaitForRotation(*router_, 3, seconds(30))) << router_->Log();
  int to_victim = 0;
  for (int i = 0; i < 30; ++i) {
    HttpResult r = Post(router_->url("/v1/chat/completions"),
                        ChatBody("after the restart, question " + std::to_string(i), 4));
    ASSERT_EQ(r.status, 200) << r.body;
    to_victim += HeaderValue(r, "X-Surge-Replica") == victim_name ? 1 : 0;
  }
  EXPECT_GT(to_victim, 0);
  HttpResult metrics = Get(router_->url("/metrics"));
  // The requests the victim had in flight were retried elsewhere.
  EXPECT_NE(metrics.body.find("surge:router_retries_total{reason=\"connection\"}"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("surge:router_ejections_total{replica=\"" + victim_name + "\"}"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("surge:router_replica_returns_total{replica=\"" + victim_name),
            std::string::npos);
}

// A streaming request read by libcurl on its own thread.
struct LiveStream {
  std::mutex mu;
  std::string body;
  std::string replica;
  long status = 0;
  CURLcode result = CURLE_OK;
  bool done = false;

  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    auto* s = static_cast<LiveStream*>(self);
    std::lock_guard lock(s->mu);
    s->body.append(data, size * n);
    return size * n;
  }
  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    auto* s = static_cast<LiveStream*>(self);
    std::string line(data, size * n);
    if (strncasecmp(line.c_str(), "x-surge-replica:", 16) == 0) {
      std::string v = line.substr(16);
      while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
      std::lock_guard lock(s->mu);
      s->replica = v;
    }
    return size * n;
  }
  void Run(const std::string& url, const std::string& request) {
    CURL* curl = curl_easy_init();
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    std::lock_guard lock(mu);
    result = rc;
    status = code;
    done = true;
  }
};

TEST_F(RouteE2eTest, StreamCutByADyingReplicaEndsWithAnErrorEvent) {
  LiveStream s;
  const auto start = std::chrono::steady_clock::now();
  std::jthread client([&] {
    s.Run(router_->url("/v1/chat/completions"), ChatBody("Tell me a long story", 400, true));
  });
  // Wait for the stream to be under way, then kill the replica serving it.
  std::string replica;
  for (int i = 0; i < 2000; ++i) {
    {
      std::lock_guard lock(s.mu);
      if (!s.replica.empty() && s.body.find("\n\n") != std::string::npos) replica = s.replica;
      ASSERT_FALSE(s.done) << "the stream finished before the kill: " << s.body;
    }
    if (!replica.empty()) break;
    std::this_thread::sleep_for(milliseconds(2));
  }
  ASSERT_FALSE(replica.empty());
  ServeProcess* victim = nullptr;
  for (auto& r : replicas_) {
    if (NameOf(*r) == replica) victim = r.get();
  }
  ASSERT_NE(victim, nullptr) << replica;
  victim->SignalAndWait(SIGKILL);
  client.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(30));  // no hang
  EXPECT_EQ(s.result, CURLE_OK) << curl_easy_strerror(s.result);     // a clean end, not a reset
  EXPECT_EQ(s.status, 200);
  std::vector<std::string> events = SseData(s.body);
  ASSERT_GE(events.size(), 2u) << s.body;
  EXPECT_EQ(std::find(events.begin(), events.end(), "[DONE]"), events.end());
  json last = json::parse(events.back(), nullptr, false);
  ASSERT_FALSE(last.is_discarded()) << events.back();
  EXPECT_EQ(last["error"]["code"], "upstream_disconnected") << events.back();
  // Every event before it is a complete chunk (no half event glued to the error).
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_FALSE(json::parse(events[i], nullptr, false).is_discarded()) << events[i];
  }
}

TEST_F(RouteE2eTest, ModelsHealthAndDrain) {
  HttpResult models = Get(router_->url("/v1/models"));
  ASSERT_EQ(models.status, 200);
  json m = json::parse(models.body);
  ASSERT_EQ(m["data"].size(), 1u);  // three replicas, one model
  EXPECT_EQ(m["data"][0]["id"], kModel);
  HttpResult wrong = Post(router_->url("/v1/chat/completions"),
                          json{{"model", "nope"}, {"messages", json::array()}}.dump());
  EXPECT_EQ(wrong.status, 404);
  // SIGTERM while a request streams: it finishes, then the router exits 0.
  // The stream's first bytes say the request is in flight (a fixed sleep
  // raced a loaded host: the signal could land before the request did).
  BackgroundPost inflight(router_->url("/v1/chat/completions"), ChatBody("drain me", 64, true));
  ASSERT_TRUE(inflight.WaitForFirstBytes()) << inflight.Result().body;
  EXPECT_EQ(router_->SignalAndWait(SIGTERM), 0) << router_->Log();
  const HttpResult r = inflight.Result();
  EXPECT_EQ(r.status, 200) << r.body;
  const std::vector<std::string> events = SseData(r.body);
  ASSERT_FALSE(events.empty()) << r.body;
  EXPECT_EQ(events.back(), "[DONE]") << r.body;
}

}  // namespace
}  // namespace surge::e2e
