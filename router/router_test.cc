// The router in-process against scripted fake replicas on 127.0.0.1:
// relaying, model routing, retries, stream cuts, disconnects, admission,
// health and discovery.
#include "router/router.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "router/fake_replica.h"
#include "server/http/asio.h"
#include "server/http/client.h"

namespace surge::router {
namespace {

namespace http = server::http;
using std::chrono::milliseconds;
using testing::FakeBehavior;
using testing::FakeReplica;
using Kind = FakeBehavior::Kind;

bool WaitUntil(const std::function<bool()>& condition, milliseconds timeout = milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

RouterOptions Options(const std::vector<const FakeReplica*>& replicas) {
  RouterOptions o;
  o.http.port = 0;
  o.health.interval = milliseconds(50);
  o.health.timeout = milliseconds(500);
  o.breaker.base_ejection = milliseconds(100);
  o.breaker.max_ejection = milliseconds(400);
  for (const FakeReplica* r : replicas) o.discovery.urls.push_back(r->url());
  return o;
}

// A started router whose replicas are all in rotation.
std::unique_ptr<Router> StartRouter(RouterOptions o, size_t expect_in_rotation) {
  absl::StatusOr<std::unique_ptr<Router>> r = Router::Create(std::move(o));
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  EXPECT_TRUE((*r)->Start().ok());
  RouterContext& ctx = (*r)->context();
  EXPECT_TRUE(WaitUntil([&] { return ctx.Eligible("", {}).size() == expect_in_rotation; }));
  return *std::move(r);
}

http::ClientResponse Send(const Router& router, std::string target, std::string body,
                          http::Headers headers = {}) {
  http::ClientRequest req;
  req.method = body.empty() ? "GET" : "POST";
  req.port = const_cast<Router&>(router).port();
  req.target = std::move(target);
  req.body = std::move(body);
  req.headers = std::move(headers);
  req.headers.emplace_back("Content-Type", "application/json");
  absl::StatusOr<http::ClientResponse> r = http::Fetch(std::move(req));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : http::ClientResponse{};
}

const std::string kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

std::string ReplicaOf(const http::ClientResponse& r) {
  return r.Header("x-surge-replica").value_or("");
}

double Metric(Router& router, const std::string& series) {
  const std::string text = router.context().metrics().Render();
  const size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 2));
}

TEST(RouterTest, RelaysBodyAndHeadersUnchanged) {
  FakeReplica a;
  auto router = StartRouter(Options({&a}), 1);
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"h\u00e9"}], "x":1})";
  http::ClientResponse r = Send(*router, "/v1/chat/completions", body,
                                {{"Authorization", "Bearer k"}, {"X-Custom", "v"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(ReplicaOf(r), a.name());
  EXPECT_NE(r.body.find(a.name()), std::string::npos);
  EXPECT_EQ(a.last_body(), body);
  const http::Headers h = a.last_headers();
  EXPECT_EQ(http::FindHeader(h, "authorization"), "Bearer k");
  EXPECT_EQ(http::FindHeader(h, "x-custom"), "v");
  EXPECT_EQ(http::FindHeader(h, "x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(Metric(*router, R"(surge:router_requests_total{endpoint="chat",status="200"})"), 1);
}

TEST(RouterTest, ModelsAreTheUnionAndRequestsFollowTheirModel) {
  FakeReplica a({"m", "shared"}), b({"n", "shared"});
  auto router = StartRouter(Options({&a, &b}), 2);
  http::ClientResponse models = Send(*router, "/v1/models", "");
  ASSERT_EQ(models.status, 200);
  nlohmann::json j = nlohmann::json::parse(models.body);
  std::vector<std::string> ids;
  for (const auto& m : j["data"]) ids.push_back(m["id"]);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"m", "n", "shared"}));
  EXPECT_EQ(j["data"][0]["owned_by"], "fake");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ReplicaOf(Send(*router, "/v1/completions", R"({"model":"n","prompt":"x"})")),
              b.name());
    EXPECT_EQ(ReplicaOf(Send(*router, "/v1/completions", R"({"model":"m","prompt":"x"})")),
              a.name());
  }
  http::ClientResponse missing = Send(*router, "/v1/completions", R"({"model":"z","prompt":"x"})");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("model_not_found"), std::string::npos);
  EXPECT_EQ(a.requests() + b.requests(), 10);
}

TEST(RouterTest, RetriesAnotherReplicaOn5xxAndDeadConnections) {
  FakeReplica bad, good;
  RouterOptions o = Options({&bad, &good});
  o.breaker.failure_threshold = 1000;  // keep the bad one in rotation
  auto router = StartRouter(std::move(o), 2);
  for (Kind kind : {Kind::kStatus, Kind::kAbort}) {
    bad.SetBehavior({.kind = kind, .status = 500});
    for (int i = 0; i < 6; ++i) {
      http::ClientResponse r = Send(*router, "/v1/chat/completions", kChat);
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(ReplicaOf(r), good.name());
    }
  }
  EXPECT_GT(bad.requests(), 0);
  EXPECT_GT(Metric(*router, R"(surge:router_retries_total{reason="5xx"})"), 0);
  EXPECT_GT(Metric(*router, R"(surge:router_retries_total{reason="connection"})"), 0);
}

TEST(RouterTest, ConsecutiveFailuresEjectAReplica) {
  FakeReplica bad, good;
  bad.SetBehavior({.kind = Kind::kStatus, .status = 500});
  RouterOptions o = Options({&bad, &good});
  o.health.interval = std::chrono::seconds(60);  // only the passive path may eject
  auto router = StartRouter(std::move(o), 2);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Send(*router, "/v1/chat/completions", kChat).status, 200);
  EXPECT_EQ(bad.requests(), 3);  // the threshold, then no more
  EXPECT_EQ(Metric(*router, "surge:router_ejections_total{replica=\"" + bad.name() + "\"}"), 1);
  EXPECT_EQ(router->context().Eligible("", {}).size(), 1u);
}

TEST(RouterTest, RefusedConnectionsAreRetriedAndTheReplicaReturnsWhenBack) {
  FakeReplica good;
  auto dead = std::make_unique<FakeReplica>();
  const uint16_t dead_port = dead->port();
  auto router = StartRouter(Options({dead.get(), &good}), 2);
  dead.reset();  // its port now refuses connections
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Send(*router, "/v1/chat/completions", kChat).status, 200);
  }
  EXPECT_TRUE(WaitUntil([&] { return router->context().Eligible("", {}).size() == 1; }));
  (void)dead_port;
}

TEST(RouterTest, ClientErrorsPassThroughWithoutRetry) {
  FakeReplica a, b;
  a.SetBehavior({.kind = Kind::kStatus, .status = 400});
  b.SetBehavior({.kind = Kind::kStatus, .status = 400});
  auto router = StartRouter(Options({&a, &b}), 2);
  http::ClientResponse r = Send(*router, "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("scripted"), std::string::npos);
  EXPECT_EQ(a.requests() + b.requests(), 1);
}

TEST(RouterTest, TooManyRequestsBenchesTheReplicaForItsRetryAfter) {
  FakeReplica busy, idle;
  busy.SetBehavior({.kind = Kind::kStatus, .status = 429, .retry_after = "30"});
  auto router = StartRouter(Options({&busy, &idle}), 2);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(Send(*router, "/v1/chat/completions", kChat).status, 200);
  EXPECT_LE(busy.requests(), 1);  // once benched, it is not asked again
  // Every replica busy: the client gets the 429 and its Retry-After.
  idle.SetBehavior({.kind = Kind::kStatus, .status = 429, .retry_after = "7"});
  FakeReplica solo;
  solo.SetBehavior({.kind = Kind::kStatus, .status = 429, .retry_after = "7"});
  auto router2 = StartRouter(Options({&solo}), 1);
  http::ClientResponse r = Send(*router2, "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "7");
}

TEST(RouterTest, RetryBudgetCapsRetries) {
  FakeReplica a, b;
  a.SetBehavior({.kind = Kind::kStatus, .status = 502});
  b.SetBehavior({.kind = Kind::kStatus, .status = 502});
  RouterOptions o = Options({&a, &b});
  o.retry_budget = {.ratio = 0, .min_per_second = 0};
  o.breaker.failure_threshold = 1000;
  auto router = StartRouter(std::move(o), 2);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Send(*router, "/v1/chat/completions", kChat).status, 502);
  EXPECT_EQ(a.requests() + b.requests(), 5);
  EXPECT_EQ(Metric(*router, "surge:router_retries_denied_total"), 5);
}

// A streamed response as the client saw it, piece by piece.
struct Streamed {
  int status = 0;
  http::Headers headers;
  std::string body;
  absl::Status done = absl::UnknownError("not done");
  std::chrono::steady_clock::time_point first_chunk, end;
};

Streamed Stream(uint16_t port, const std::string& body) {
  Streamed out;
  boost::asio::io_context ioc;
  http::HttpClient client(ioc);
  http::ClientRequest req;
  req.method = "POST";
  req.port = port;
  req.target = "/v1/chat/completions";
  req.body = body;
  req.read_timeout = milliseconds(10000);
  client.Request(req, {.on_status_headers =
                           [&](int s, const http::Headers& h) {
                             out.status = s;
                             out.headers = h;
                           },
                       .on_body_chunk =
                           [&](std::string_view c) {
                             if (out.body.empty())
                               out.first_chunk = std::chrono::steady_clock::now();
                             out.body.append(c);
                           },
                       .on_done = [&](absl::Status s) { out.done = s; }});
  ioc.run();
  out.end = std::chrono::steady_clock::now();
  return out;
}

const std::string kStreamChat =
    R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";

TEST(RouterTest, SseIsRelayedEventByEventAsItArrives) {
  FakeReplica a;
  a.SetBehavior({.kind = Kind::kSse, .events = 3, .gap = milliseconds(300)});
  auto router = StartRouter(Options({&a}), 1);
  Streamed s = Stream(router->port(), kStreamChat);
  ASSERT_TRUE(s.done.ok()) << s.done;
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(http::FindHeader(s.headers, "content-type"), "text/event-stream");
  // The first event reached the client well before the stream's end (600 ms later).
  EXPECT_GT(s.end - s.first_chunk, milliseconds(400));
  EXPECT_NE(s.body.find(R"({"i":2,)"), std::string::npos);
  EXPECT_NE(s.body.find("data: [DONE]\n\n"), std::string::npos);
}

TEST(RouterTest, StreamCutMidwayEndsWithAnErrorEvent) {
  FakeReplica a;
  a.SetBehavior({.kind = Kind::kSseDie, .events = 2, .gap = milliseconds(20)});
  auto router = StartRouter(Options({&a}), 1);
  Streamed s = Stream(router->port(), kStreamChat);
  ASSERT_TRUE(s.done.ok()) << s.done;  // a clean end of the chunked body, not a hang or reset
  EXPECT_EQ(s.status, 200);
  EXPECT_NE(s.body.find(R"({"i":1,)"), std::string::npos);
  EXPECT_EQ(s.body.find("[DONE]"), std::string::npos);
  const size_t err = s.body.rfind("data: {\"error\"");
  ASSERT_NE(err, std::string::npos) << s.body;
  nlohmann::json e = nlohmann::json::parse(s.body.substr(err + 6));
  EXPECT_EQ(e["error"]["code"], "upstream_disconnected");
  EXPECT_EQ(e["error"]["type"], "server_error");
  EXPECT_EQ(Metric(*router, "surge:router_upstream_requests_total{replica=\"" + a.name() +
                                "\",outcome=\"stream_cut\"}"),
            1);
}

TEST(RouterTest, StreamThatDiesBeforeItsFirstEventIsRetried) {
  FakeReplica a, b;
  a.SetBehavior({.kind = Kind::kSseDie, .events = 0});  // a 200 header, then gone
  b.SetBehavior({.kind = Kind::kSse, .events = 2});
  RouterOptions o = Options({&a, &b});
  o.breaker.failure_threshold = 1000;  // keep a in rotation
  auto router = StartRouter(std::move(o), 2);
  for (int i = 0; i < 4; ++i) {
    Streamed s = Stream(router->port(), kStreamChat);
    ASSERT_TRUE(s.done.ok());
    EXPECT_NE(s.body.find("[DONE]"), std::string::npos) << s.body;
    EXPECT_EQ(http::FindHeader(s.headers, "x-surge-replica"), b.name());
  }
  EXPECT_GE(a.requests(), 1);
}

TEST(RouterTest, ClientLeavingCancelsTheUpstreamRequest) {
  FakeReplica a;
  a.SetBehavior({.kind = Kind::kSse, .events = 1000, .gap = milliseconds(20)});
  auto router = StartRouter(Options({&a}), 1);
  boost::asio::io_context ioc;
  http::HttpClient client(ioc);
  http::ClientRequest req;
  req.method = "POST";
  req.port = router->port();
  req.target = "/v1/chat/completions";
  req.body = kStreamChat;
  std::shared_ptr<http::ClientCall> call;
  call = client.Request(req, {.on_body_chunk = [&](std::string_view) { call->Cancel(); }});
  ioc.run();
  EXPECT_TRUE(WaitUntil([&] { return a.closed_by_client() == 1; }));
  EXPECT_TRUE(WaitUntil([&] { return router->idle(); }));
  EXPECT_EQ(Metric(*router, R"(surge:router_requests_total{endpoint="chat",status="499"})"), 1);
}

TEST(RouterTest, PerKeyRateLimitAnswers429WithRetryAfter) {
  FakeReplica a;
  RouterOptions o = Options({&a});
  o.rate_limits = {.requests_per_second = 0.5, .request_burst = 1};
  auto router = StartRouter(std::move(o), 1);
  EXPECT_EQ(Send(*router, "/v1/chat/completions", kChat, {{"Authorization", "Bearer a"}}).status,
            200);
  http::ClientResponse r =
      Send(*router, "/v1/chat/completions", kChat, {{"Authorization", "Bearer a"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "2");
  EXPECT_NE(r.body.find("rate_limit_exceeded"), std::string::npos);
  EXPECT_EQ(Send(*router, "/v1/chat/completions", kChat, {{"Authorization", "Bearer b"}}).status,
            200);
}

TEST(RouterTest, ConcurrencyCapQueuesRefusesAndTimesOut) {
  FakeReplica a;
  a.SetBehavior({.kind = Kind::kHang});
  RouterOptions o = Options({&a});
  o.concurrency = {.max_in_flight = 1, .max_queue = 1, .queue_timeout = milliseconds(300)};
  auto router = StartRouter(std::move(o), 1);
  // The first request hangs upstream and holds the only slot.
  std::jthread hung([&] {
    http::ClientRequest req;
    req.method = "POST";
    req.port = router->port();
    req.target = "/v1/chat/completions";
    req.body = kChat;
    req.read_timeout = milliseconds(3000);
    (void)http::Fetch(req);
  });
  ASSERT_TRUE(WaitUntil([&] { return a.requests() == 1; }));
  std::jthread queued([&] {
    const auto t0 = std::chrono::steady_clock::now();
    http::ClientResponse r = Send(*router, "/v1/chat/completions", kChat);
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("queue_timeout"), std::string::npos);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(250));
  });
  ASSERT_TRUE(WaitUntil([&] { return router->context().limiter().queue_depth() == 1; }));
  http::ClientResponse full = Send(*router, "/v1/chat/completions", kChat);
  EXPECT_EQ(full.status, 429);
  EXPECT_NE(full.body.find("queue_full"), std::string::npos);
  EXPECT_EQ(full.Header("retry-after"), "1");
}

TEST(RouterTest, HealthChecksEjectAndReturnReplicas) {
  FakeReplica a, b;
  auto router = StartRouter(Options({&a, &b}), 2);
  EXPECT_EQ(Send(*router, "/health", "").status, 200);
  a.SetHealth(503);  // draining: out at once
  ASSERT_TRUE(WaitUntil([&] { return router->context().Eligible("", {}).size() == 1; }));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ReplicaOf(Send(*router, "/v1/chat/completions", kChat)), b.name());
  }
  b.SetHealth(500);  // failing: out after three failed checks
  ASSERT_TRUE(WaitUntil([&] { return router->context().Eligible("", {}).empty(); }));
  http::ClientResponse none = Send(*router, "/v1/chat/completions", kChat);
  EXPECT_EQ(none.status, 503);
  EXPECT_EQ(none.Header("retry-after"), "1");
  EXPECT_EQ(Send(*router, "/health", "").status, 503);
  a.SetHealth(200);
  b.SetHealth(200);
  ASSERT_TRUE(WaitUntil([&] { return router->context().Eligible("", {}).size() == 2; }));
  EXPECT_EQ(Send(*router, "/health", "").status, 200);
  EXPECT_GE(Metric(*router, "surge:router_replica_returns_total{replica=\"" + a.name() + "\"}"), 2);
}

TEST(RouterTest, ReplicasFileIsReloadedWhenItChanges) {
  FakeReplica a, b;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("surge_router_test_" + std::to_string(getpid()) + ".txt"))
                               .string();
  std::ofstream(path) << "# one replica\n" << a.url() << "\n";
  RouterOptions o = Options({});
  o.discovery.file = path;
  o.discovery.file_poll = milliseconds(50);
  auto router = StartRouter(std::move(o), 1);
  EXPECT_EQ(ReplicaOf(Send(*router, "/v1/chat/completions", kChat)), a.name());
  std::ofstream(path) << "not a url at all ://\n";  // a bad edit keeps the old list
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(router->context().replicas().size(), 1u);
  std::ofstream(path) << b.url() << "\n";
  ASSERT_TRUE(WaitUntil([&] {
    auto e = router->context().Eligible("", {});
    return e.size() == 1 && e[0]->name() == b.name();
  }));
  EXPECT_EQ(ReplicaOf(Send(*router, "/v1/chat/completions", kChat)), b.name());
  std::filesystem::remove(path);
}

TEST(RouterTest, DnsNameIsResolvedToReplicas) {
  FakeReplica a;
  RouterOptions o = Options({});
  o.discovery.dns = "localhost:" + std::to_string(a.port());
  o.discovery.dns_interval = milliseconds(100);
  auto router = StartRouter(std::move(o), 1);  // ::1, if listed, refuses: not in rotation
  EXPECT_EQ(router->context().Eligible("", {})[0]->name(), a.name());
  EXPECT_EQ(ReplicaOf(Send(*router, "/v1/chat/completions", kChat)), a.name());
  http::ClientResponse metrics = Send(*router, "/metrics", "");
  EXPECT_NE(metrics.body.find("surge:router_replica_up{replica=\"" + a.name() + "\"} 1"),
            std::string::npos);
}

TEST(RouterTest, UpstreamKeyReplacesTheClientsKey) {
  FakeReplica a;
  RouterOptions o = Options({&a});
  o.api_keys = {"client-key"};
  o.proxy.upstream_api_key = "replica-key";
  auto router = StartRouter(std::move(o), 1);
  EXPECT_EQ(
      Send(*router, "/v1/chat/completions", kChat, {{"Authorization", "Bearer client-key"}}).status,
      200);
  EXPECT_EQ(http::FindHeader(a.last_headers(), "authorization"), "Bearer replica-key");
}

TEST(RouterTest, ApiKeysAreChecked) {
  FakeReplica a;
  RouterOptions o = Options({&a});
  o.api_keys = {"secret"};
  auto router = StartRouter(std::move(o), 1);
  http::ClientResponse r = Send(*router, "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("authentication_error"), std::string::npos);
  EXPECT_EQ(Send(*router, "/v1/models", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(
      Send(*router, "/v1/chat/completions", kChat, {{"Authorization", "Bearer secret"}}).status,
      200);
  EXPECT_EQ(a.requests(), 1);
  EXPECT_EQ(Send(*router, "/health", "").status, 200);  // health and metrics stay open
}

TEST(RouterTest, BadJsonIsRefusedAndOtherPathsAreRelayed) {
  FakeReplica a;
  auto router = StartRouter(Options({&a}), 1);
  http::ClientResponse r = Send(*router, "/v1/chat/completions", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("invalid_json"), std::string::npos);
  EXPECT_EQ(a.requests(), 0);
  EXPECT_EQ(Send(*router, "/tokenize", R"({"model":"m","prompt":"x"})").status, 200);
  EXPECT_EQ(Send(*router, "/v1/embeddings", "raw bytes").status, 200);
  EXPECT_EQ(a.requests(), 2);
}

TEST(RouterTest, PrefixAffinityKeepsAConversationOnOneReplica) {
  FakeReplica a, b, c;
  auto router = StartRouter(Options({&a, &b, &c}), 3);
  std::map<std::string, int> seen;
  for (int i = 0; i < 12; ++i) {
    const std::string body = R"({"model":"m","messages":[{"role":"system","content":")" +
                             std::string(600, 'S') + R"("},{"role":"user","content":"q)" +
                             std::to_string(i) + R"("}]})";
    ++seen[ReplicaOf(Send(*router, "/v1/chat/completions", body))];
  }
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_GE(
      Metric(*router,
             R"(surge:router_routing_decisions_total{policy="prefix",decision="prefix_hit"})"),
      11);
}

}  // namespace
}  // namespace surge::router
