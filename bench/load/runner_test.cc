// LevelRunner against an in-process fake OpenAI server (server/http): closed
// loop holds exactly its concurrency, open loop spreads arrivals, caps end a
// level, and a refusing, silent or failing server gives error records, not a
// hang. The stop flag ends a level at once.
#include "bench/load/runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/http/server.h"

namespace surge::bench {
namespace {

using std::chrono::milliseconds;
namespace http = server::http;

// Streams `max_tokens` one-word chunks per request from its own thread, after
// a delay, with usage and [DONE]; or answers with `status` when it is not 200;
// or never answers when `silent`. Also serves /metrics.
class FakeOpenAi {
 public:
  explicit FakeOpenAi(int status = 200, bool silent = false,
                      milliseconds first_token_delay = milliseconds(30))
      : server_(http::ServerOptions{.port = 0}),
        status_(status),
        silent_(silent),
        delay_(first_token_delay) {
    server_.Route("POST", "/v1/completions",
                  [this](std::shared_ptr<http::Exchange> e) { Handle(std::move(e)); });
    server_.Route("GET", "/metrics", [](std::shared_ptr<http::Exchange> e) {
      e->Respond(200, "text/plain", "process_resident_memory_bytes 12345\n");
    });
    EXPECT_TRUE(server_.Start().ok());
  }
  ~FakeOpenAi() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    threads_.clear();  // joins
    server_.Stop();
  }

  TargetUrl url() const {
    return *ParseTargetUrl(absl::StrCat("http://127.0.0.1:", server_.port()));
  }
  int max_active() const { return max_active_.load(); }
  int total() const { return total_.load(); }

 private:
  void Handle(std::shared_ptr<http::Exchange> e) {
    ++total_;
    if (silent_) {
      std::lock_guard lock(mu_);
      held_.push_back(std::move(e));
      return;
    }
    if (status_ != 200) {
      e->Respond(status_, "application/json", R"({"error":{"message":"busy"}})");
      return;
    }
    const int n = nlohmann::json::parse(e->request().body)["max_tokens"].get<int>();
    const int now = ++active_;
    int seen = max_active_.load();
    while (now > seen && !max_active_.compare_exchange_weak(seen, now)) {
    }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    threads_.emplace_back([this, e, n] { Stream(e, n); });
  }

  void Stream(const std::shared_ptr<http::Exchange>& e, int n) {
    std::this_thread::sleep_for(delay_);
    e->StartStream(200, "text/event-stream");
    for (int i = 0; i < n; ++i) {
      e->Write("data: {\"choices\":[{\"index\":0,\"text\":\" w\",\"finish_reason\":null}]}\n\n");
      std::this_thread::sleep_for(milliseconds(2));
    }
    e->Write(absl::StrCat("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,",
                          "\"completion_tokens\":", n, "}}\n\ndata: [DONE]\n\n"));
    --active_;  // before End(): the client may send its next request at once
    e->End();
  }

  http::HttpServer server_;
  const int status_;
  const bool silent_;
  const milliseconds delay_;
  std::atomic<int> active_{0}, max_active_{0}, total_{0};
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<http::Exchange>> held_;
  std::vector<std::jthread> threads_;
};

// Holds every request until `n` are open at once, then answers them all with
// a whole SSE body: proves the client really had `n` streams in flight.
class GatheringServer {
 public:
  explicit GatheringServer(size_t n) : server_(http::ServerOptions{.port = 0}), n_(n) {
    server_.Route("POST", "/v1/completions", [this](std::shared_ptr<http::Exchange> e) {
      held_.push_back(std::move(e));  // I/O thread only
      if (held_.size() < n_) return;
      const std::string body =
          "data: {\"choices\":[{\"index\":0,\"text\":\"x\"}]}\n\n"
          "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n"
          "data: [DONE]\n\n";
      for (auto& held : held_) held->Respond(200, "text/event-stream", body);
      held_.clear();
    });
    EXPECT_TRUE(server_.Start().ok());
  }
  TargetUrl url() const {
    return *ParseTargetUrl(absl::StrCat("http://127.0.0.1:", server_.port()));
  }

 private:
  http::HttpServer server_;
  const size_t n_;
  std::vector<std::shared_ptr<http::Exchange>> held_;
};

uint16_t UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

BenchConfig Config() {
  BenchConfig c;
  c.url = "http://127.0.0.1:1";
  c.requests = 1;
  c.prompt_tokens = {8, 8};
  c.max_tokens = {3, 6};
  return c;
}

class RunnerTest : public ::testing::Test {
 protected:
  LevelRun Run(const TargetUrl& url, const LevelPlan& plan,
               milliseconds timeout = milliseconds(5000), const std::atomic<bool>* stop = nullptr) {
    LevelRunner runner(workload_, Target{.url = url, .body = {.model = "m"}}, 1, timeout);
    return runner.Run(plan, nullptr, stop);
  }
  Workload workload_ = *Workload::Create(Config());
};

TEST_F(RunnerTest, ClosedLoopKeepsExactlyItsConcurrency) {
  FakeOpenAi server;
  const LevelRun run = Run(server.url(), LevelPlan{.value = 3, .max_requests = 12});
  ASSERT_EQ(run.records.size(), 12u);
  EXPECT_FALSE(run.interrupted);
  std::vector<int64_t> indexes;
  for (const RequestRecord& r : run.records) {
    ASSERT_TRUE(r.ok()) << r.error_message;
    EXPECT_EQ(r.output_tokens, r.max_tokens);
    EXPECT_EQ(r.itl_s.size(), static_cast<size_t>(r.max_tokens - 1));
    ASSERT_TRUE(r.ttft_s.has_value());
    EXPECT_GE(*r.ttft_s, 0.025);  // the server's first-token delay
    EXPECT_LE(*r.ttft_s, r.e2e_s);
    indexes.push_back(r.index);
  }
  std::sort(indexes.begin(), indexes.end());
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(indexes[static_cast<size_t>(i)], i);
  EXPECT_EQ(server.max_active(), 3);
  EXPECT_EQ(server.total(), 12);
  EXPECT_GT(run.duration_s, 0.1);  // 4 rounds of >= 30 ms
}

TEST_F(RunnerTest, OpenLoopSpreadsPoissonArrivals) {
  FakeOpenAi server;
  const LevelRun run =
      Run(server.url(), LevelPlan{.mode = LoadMode::kRate, .value = 40, .max_requests = 20});
  ASSERT_EQ(run.records.size(), 20u);
  double last_start = 0;
  for (const RequestRecord& r : run.records) {
    EXPECT_TRUE(r.ok()) << r.error_message;
    last_start = std::max(last_start, r.start_s);
  }
  // 20 arrivals at 40/s: the last near 0.5 s (Gamma(20, 40): sd 0.11 s).
  EXPECT_GT(last_start, 0.15);
  EXPECT_LT(last_start, 1.5);
}

TEST_F(RunnerTest, MaxInflightMakesArrivalsWaitButKeepsTheirDueTime) {
  FakeOpenAi server(200, false, milliseconds(100));
  const LevelRun run =
      Run(server.url(),
          LevelPlan{.mode = LoadMode::kRate, .value = 200, .max_requests = 6, .max_inflight = 1});
  ASSERT_EQ(run.records.size(), 6u);
  EXPECT_EQ(server.max_active(), 1);
  double worst = 0;
  for (const RequestRecord& r : run.records) worst = std::max(worst, r.e2e_s);
  EXPECT_GT(worst, 0.4);  // the last waited for five others of >= 100 ms each
}

TEST_F(RunnerTest, DurationCapStopsNewRequests) {
  FakeOpenAi server;
  const LevelRun run = Run(server.url(), LevelPlan{.value = 2, .max_duration_s = 0.3});
  EXPECT_GE(run.records.size(), 4u);
  for (const RequestRecord& r : run.records) {
    EXPECT_TRUE(r.ok());
    EXPECT_LT(r.start_s, 0.3);
  }
}

TEST_F(RunnerTest, RefusedConnectionsAreCountedNotHung) {
  const TargetUrl url = *ParseTargetUrl(absl::StrCat("http://127.0.0.1:", UnusedPort()));
  const LevelRun run = Run(url, LevelPlan{.value = 4, .max_requests = 8});
  ASSERT_EQ(run.records.size(), 8u);
  for (const RequestRecord& r : run.records) EXPECT_EQ(r.error, ErrorKind::kConnection);
  EXPECT_LT(run.duration_s, 5);
  // Duration cap only: each worker pauses 50 ms after a refusal, so 2 workers
  // in 0.5 s send about 20 requests, not thousands.
  const LevelRun timed = Run(url, LevelPlan{.value = 2, .max_duration_s = 0.5});
  EXPECT_GE(timed.records.size(), 4u);
  EXPECT_LE(timed.records.size(), 30u);
  EXPECT_LT(timed.duration_s, 2);
}

TEST_F(RunnerTest, SilentServerTimesOut) {
  FakeOpenAi server(200, /*silent=*/true);
  const LevelRun run =
      Run(server.url(), LevelPlan{.value = 2, .max_requests = 2}, milliseconds(300));
  ASSERT_EQ(run.records.size(), 2u);
  for (const RequestRecord& r : run.records) {
    EXPECT_EQ(r.error, ErrorKind::kTimeout) << r.error_message;
    EXPECT_GE(r.e2e_s, 0.25);
  }
  EXPECT_LT(run.duration_s, 3);
}

TEST_F(RunnerTest, HttpErrorsAreRecordedWithStatus) {
  FakeOpenAi server(429);
  const LevelRun run = Run(server.url(), LevelPlan{.value = 1, .max_requests = 3});
  ASSERT_EQ(run.records.size(), 3u);
  for (const RequestRecord& r : run.records) {
    EXPECT_EQ(r.error, ErrorKind::kHttpStatus);
    EXPECT_EQ(r.http_status, 429);
    EXPECT_EQ(r.error_message, "HTTP 429: busy");
  }
}

TEST_F(RunnerTest, StopFlagCancelsWhatIsInFlight) {
  FakeOpenAi server(200, /*silent=*/true);
  std::atomic<bool> stop{false};
  std::jthread stopper([&stop] {
    std::this_thread::sleep_for(milliseconds(200));
    stop.store(true);
  });
  const LevelRun run =
      Run(server.url(), LevelPlan{.value = 3, .max_duration_s = 60}, milliseconds(60000), &stop);
  EXPECT_TRUE(run.interrupted);
  ASSERT_EQ(run.records.size(), 3u);
  for (const RequestRecord& r : run.records) EXPECT_EQ(r.error, ErrorKind::kCancelled);
  EXPECT_LT(run.duration_s, 5);
}

TEST_F(RunnerTest, SamplesResidentMemoryDuringTheLevel) {
  FakeOpenAi server;
  const LevelRun run =
      Run(server.url(), LevelPlan{.value = 1, .max_requests = 4, .sample_memory = true});
  EXPECT_EQ(run.peak_resident_bytes.value_or(-1), 12345);
}

TEST_F(RunnerTest, ThousandConcurrentStreamsOnOneThread) {
  constexpr int kStreams = 1000;  // 2000 sockets in this process (client and server)
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 2 * kStreams + 100) GTEST_SKIP() << "needs ulimit -n >= 2100";
  GatheringServer server(kStreams);
  const LevelRun run = Run(server.url(), LevelPlan{.value = kStreams, .max_requests = kStreams},
                           milliseconds(30000));
  ASSERT_EQ(run.records.size(), static_cast<size_t>(kStreams));
  int ok = 0;
  for (const RequestRecord& r : run.records) ok += r.ok() && r.output_tokens == 1 ? 1 : 0;
  EXPECT_EQ(ok, kStreams);
}

}  // namespace
}  // namespace surge::bench
