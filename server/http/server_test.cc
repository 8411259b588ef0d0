// HttpServer behaviour over real sockets on 127.0.0.1 (port 0): routing,
// keep-alive, streaming from another thread, disconnects, many idle
// connections, drain and stop.
#include "server/http/server.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/http/asio.h"
#include "server/http/client.h"
#include "server/http/sse.h"
#include "server/http/test_util.h"

namespace surge::server::http {
namespace {

using std::chrono::milliseconds;
using testing::BodyOf;
using testing::RawConnection;
using testing::StatusOf;

// Counts down from another thread; waits with a timeout.
class Latch {
 public:
  void Signal() {
    std::lock_guard lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  bool WaitFor(int n, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

ClientRequest Get(uint16_t port, std::string target) {
  ClientRequest request;
  request.port = port;
  request.target = std::move(target);
  return request;
}

bool WaitUntil(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<HttpServer>(options);
    server_->Route("GET", "/hello", [](std::shared_ptr<Exchange> ex) {
      ex->Respond(200, "text/plain", "hello " + ex->request().target);
    });
    server_->Route("POST", "/echo", [](std::shared_ptr<Exchange> ex) {
      ex->Respond(200, "application/octet-stream", ex->request().body);
    });
    // Streams five SSE events from a separate "engine" thread.
    server_->Route("GET", "/stream", [this](std::shared_ptr<Exchange> ex) {
      ex->OnClose([this] { on_close_calls_.fetch_add(1); });
      ex->StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
      engine_threads_.emplace_back([this, ex] {
        for (int i = 0; i < 5 && !ex->closed(); ++i) {
          ex->Write("data: token" + std::to_string(i) + "\n\n");
          std::this_thread::sleep_for(milliseconds(stream_gap_ms_));
        }
        ex->End();
      });
    });
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }

  void TearDown() override {
    if (server_) server_->Stop();
    engine_threads_.clear();
  }

  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  int stream_gap_ms_ = 20;
  std::atomic<int> on_close_calls_{0};
  std::vector<std::jthread> engine_threads_;
};

TEST_F(HttpServerTest, RoutesAnswerAndUnknownPathsGet404Or405) {
  StartServer();
  auto ok = Fetch(Get(port_, "/hello?x=1"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "hello /hello?x=1");

  auto missing = Fetch(Get(port_, "/nope"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->Header("content-type"), "application/json");
  EXPECT_TRUE(testing::IsErrorBody(missing->body, "not_found")) << missing->body;

  ClientRequest post = Get(port_, "/hello");
  post.method = "POST";
  auto wrong_method = Fetch(post);
  ASSERT_TRUE(wrong_method.ok());
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->Header("Allow"), "GET");
  EXPECT_TRUE(testing::IsErrorBody(wrong_method->body, "method_not_allowed"));
}

TEST_F(HttpServerTest, FallbackHandlesEverythingUnrouted) {
  server_ = std::make_unique<HttpServer>(ServerOptions{.port = 0});
  server_->Route("GET", "/a", [](std::shared_ptr<Exchange> ex) { ex->Respond(200, "", "a"); });
  server_->SetFallback([](std::shared_ptr<Exchange> ex) {
    const Request& request = ex->request();
    ex->Respond(299, "text/plain",
                request.method + " " + request.path + " " + request.Header("x-TEST").value_or("") +
                    " " + request.remote);
  });
  ASSERT_TRUE(server_->Start().ok());
  ClientRequest request = Get(server_->port(), "/b/c?q");
  request.headers = {{"X-Test", "v"}};
  auto response = Fetch(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 299);
  EXPECT_EQ(response->body.rfind("GET /b/c v 127.0.0.1:", 0), 0u) << response->body;
}

TEST_F(HttpServerTest, PrefixRoutesTakeWhatNoExactRouteDoes) {
  server_ = std::make_unique<HttpServer>(ServerOptions{.port = 0});
  auto answer = [](std::string what) {
    return
        [what](std::shared_ptr<Exchange> ex) { ex->Respond(200, "", what + ex->request().path); };
  };
  server_->Route("GET", "/items/special", answer("exact "));
  server_->RoutePrefix("POST", "/items/", answer("items "));
  server_->RoutePrefix("POST", "/items/deep/", answer("deep "));
  server_->RoutePrefix("POST", "/", answer("root "));
  ASSERT_TRUE(server_->Start().ok());
  auto fetch = [&](const std::string& method, const std::string& path) {
    ClientRequest r = Get(server_->port(), path);
    r.method = method;
    return Fetch(r);
  };
  struct Case {
    std::string method, path;
    int status;
    std::string body;
  } cases[] = {
      {"GET", "/items/special", 200, "exact /items/special"},
      {"POST", "/items/a/load", 200, "items /items/a/load"},
      {"POST", "/items/deep/x", 200, "deep /items/deep/x"},  // the longest prefix wins
      {"POST", "/other", 200, "root /other"},
      {"GET", "/items/a", 405, ""},  // prefix known, method not
  };
  for (const Case& c : cases) {
    auto r = fetch(c.method, c.path);
    ASSERT_TRUE(r.ok()) << c.path;
    EXPECT_EQ(r->status, c.status) << c.method << " " << c.path;
    if (!c.body.empty()) {
      EXPECT_EQ(r->body, c.body);
    }
  }
}

TEST_F(HttpServerTest, KeepAliveAndPipelinedRequestsShareOneConnection) {
  StartServer();
  RawConnection connection(port_);
  ASSERT_TRUE(connection.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(connection.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string response = connection.ReadResponse();
    EXPECT_EQ(StatusOf(response), 200);
    EXPECT_NE(response.find("Connection: keep-alive"), std::string::npos);
  }
  // Three requests in one write come back in order.
  ASSERT_TRUE(connection.Send(
      "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
      "GET /hello?two HTTP/1.1\r\n\r\n"
      "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthree"));
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "one");
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "hello /hello?two");
  const std::string last = connection.ReadResponse();
  EXPECT_EQ(BodyOf(last), "three");
  EXPECT_NE(last.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(connection.WaitForClose(milliseconds(2000)));
  connection.Close();
  EXPECT_TRUE(WaitUntil([&] { return server_->num_connections() == 0; }, milliseconds(3000)));
}

TEST_F(HttpServerTest, StreamWrittenFromAnotherThreadArrivesChunkByChunk) {
  stream_gap_ms_ = 40;
  StartServer();
  net::io_context ioc;
  HttpClient client(ioc);
  SseParser parser;
  std::vector<SseEvent> events;
  std::vector<size_t> events_seen_per_chunk;
  int status = 0;
  absl::Status done = absl::UnknownError("not done");
  client.Request(Get(port_, "/stream"),
                 {.on_status_headers = [&](int s, const Headers&) { status = s; },
                  .on_body_chunk =
                      [&](std::string_view chunk) {
                        ASSERT_TRUE(parser.Feed(chunk, &events).ok());
                        events_seen_per_chunk.push_back(events.size());
                      },
                  .on_done = [&](absl::Status s) { done = s; }});
  ioc.run();
  ASSERT_TRUE(done.ok()) << done;
  EXPECT_EQ(status, 200);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[4].data, "token4");
  // 40 ms apart, the events arrive one read at a time, not all at the end.
  EXPECT_GE(events_seen_per_chunk.size(), 4u);
  EXPECT_EQ(events_seen_per_chunk.front(), 1u);
  EXPECT_EQ(on_close_calls_.load(), 0);  // completed normally
}

TEST_F(HttpServerTest, ClientLeavingMidStreamRunsOnCloseOnce) {
  stream_gap_ms_ = 30;
  StartServer();
  {
    RawConnection connection(port_);
    ASSERT_TRUE(connection.Send("GET /stream HTTP/1.1\r\n\r\n"));
    const std::string start = connection.ReadUntil("token0", milliseconds(3000));
    ASSERT_NE(start.find("Transfer-Encoding: chunked"), std::string::npos) << start;
    ASSERT_NE(start.find("token0"), std::string::npos);
  }  // the client goes away after the first event
  EXPECT_TRUE(WaitUntil([&] { return on_close_calls_.load() == 1; }, milliseconds(3000)));
  engine_threads_.clear();  // the writer stops early (closed()) and calls End()
  EXPECT_EQ(on_close_calls_.load(), 1);
  EXPECT_TRUE(WaitUntil([&] { return server_->num_active_exchanges() == 0; }, milliseconds(3000)));
  EXPECT_TRUE(WaitUntil([&] { return server_->num_connections() == 0; }, milliseconds(3000)));
}

TEST_F(HttpServerTest, DroppingAnExchangeUnansweredGives500) {
  server_ = std::make_unique<HttpServer>(ServerOptions{.port = 0});
  server_->Route("GET", "/drop", [](std::shared_ptr<Exchange>) {});
  ASSERT_TRUE(server_->Start().ok());
  auto response = Fetch(Get(server_->port(), "/drop"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
  EXPECT_TRUE(testing::IsErrorBody(response->body, "internal_error", "server_error"));
  // The count drops once the server's write completes, maybe after the
  // client has read the response.
  EXPECT_TRUE(WaitUntil([&] { return server_->num_active_exchanges() == 0; }, milliseconds(3000)));
}

TEST_F(HttpServerTest, ThousandIdleConnectionsDoNotStopService) {
  StartServer();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port_));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  EXPECT_TRUE(WaitUntil([&] { return server_->num_connections() >= 1000; }, milliseconds(5000)));
  for (int i = 0; i < 10; ++i) {
    auto response = Fetch(Get(port_, "/hello"));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
  }
  // The idle ones still work too.
  ASSERT_TRUE(idle[500]->Send("GET /hello HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(StatusOf(idle[500]->ReadResponse()), 200);
  idle.clear();
  EXPECT_TRUE(WaitUntil([&] { return server_->num_connections() == 0; }, milliseconds(5000)));
}

TEST_F(HttpServerTest, StopAcceptingLetsTheStreamFinishAndRefusesNewConnections) {
  stream_gap_ms_ = 60;
  StartServer();
  RawConnection idle(port_);
  RawConnection streaming(port_);
  ASSERT_TRUE(streaming.Send("GET /stream HTTP/1.1\r\n\r\n"));
  ASSERT_NE(streaming.ReadUntil("token0", milliseconds(3000)).find("token0"), std::string::npos);
  server_->StopAccepting();
  EXPECT_TRUE(idle.WaitForClose(milliseconds(3000)));  // idle keep-alive connections close
  EXPECT_FALSE(RawConnection(port_).connected());      // new connects are refused
  const std::string rest = streaming.ReadUntilClose(milliseconds(5000));
  EXPECT_NE(rest.find("token4"), std::string::npos);
  EXPECT_NE(rest.find("0\r\n\r\n"), std::string::npos);  // the stream ended properly
  EXPECT_EQ(on_close_calls_.load(), 0);
  EXPECT_EQ(server_->num_active_exchanges(), 0u);
}

TEST_F(HttpServerTest, StopClosesOpenStreamsAndRunsOnClose) {
  stream_gap_ms_ = 200;
  StartServer();
  RawConnection streaming(port_);
  ASSERT_TRUE(streaming.Send("GET /stream HTTP/1.1\r\n\r\n"));
  ASSERT_NE(streaming.ReadUntil("token0", milliseconds(3000)).find("token0"), std::string::npos);
  server_->Stop();
  EXPECT_EQ(on_close_calls_.load(), 1);
  EXPECT_TRUE(streaming.WaitForClose(milliseconds(1000)));
  engine_threads_.clear();  // writes after Stop() are harmless no-ops
  EXPECT_EQ(server_->num_connections(), 0u);
}

}  // namespace
}  // namespace surge::server::http
