// HttpClient against HttpServer and against misbehaving peers, plus libcurl
// as an independent client of HttpServer.
#include "server/http/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/http/asio.h"
#include "server/http/server.h"

namespace surge::server::http {
namespace {

using std::chrono::milliseconds;

// A listening socket that never accepts: connects succeed (the kernel
// completes them) but nothing is ever answered.
class SilentListener {
 public:
  explicit SilentListener(int backlog = 16) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(fd_, backlog);
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  uint16_t port() const { return port_; }
  // Accepts one connection, writes `bytes` and closes it.
  void AnswerOnce(const std::string& bytes) {
    const int client = ::accept(fd_, nullptr, nullptr);
    ::send(client, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ::close(client);
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

ClientRequest To(uint16_t port, std::string target, milliseconds read_timeout) {
  ClientRequest request;
  request.port = port;
  request.target = std::move(target);
  request.read_timeout = read_timeout;
  return request;
}

TEST(HttpClientTest, RefusedConnectionIsUnavailable) {
  uint16_t port = 0;
  { port = SilentListener().port(); }  // closed again: nobody listens there now
  auto response = Fetch(To(port, "/", milliseconds(1000)));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
}

TEST(HttpClientTest, SilentServerHitsTheReadTimeout) {
  SilentListener silent;
  const auto start = std::chrono::steady_clock::now();
  auto response = Fetch(To(silent.port(), "/", milliseconds(200)));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
}

TEST(HttpClientTest, TruncatedBodyIsAnErrorNotASuccess) {
  SilentListener peer;
  std::jthread answer(
      [&] { peer.AnswerOnce("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"); });
  auto response = Fetch(To(peer.port(), "/", milliseconds(2000)));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
}

TEST(HttpClientTest, ConnectThatNeverCompletesHitsTheConnectTimeout) {
  // With its accept queue full, the listener's kernel drops further SYNs.
  SilentListener full(/*backlog=*/0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(full.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(milliseconds(50));
  ClientRequest request = To(full.port(), "/", milliseconds(5000));
  request.connect_timeout = milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto response = Fetch(request);
  for (int fd : fillers) ::close(fd);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
}

TEST(HttpClientTest, CancelEndsTheCallOnceWithCancelled) {
  SilentListener silent;
  net::io_context ioc;
  HttpClient client(ioc);
  std::atomic<int> done_calls = 0;
  absl::Status result;
  auto call =
      client.Request(To(silent.port(), "/", milliseconds(10000)), {.on_done = [&](absl::Status s) {
                       result = s;
                       done_calls.fetch_add(1);
                     }});
  std::jthread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    call->Cancel();
    call->Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  ioc.run();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  EXPECT_EQ(done_calls.load(), 1);
  EXPECT_EQ(result.code(), absl::StatusCode::kCancelled);
}

class ClientAgainstServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Route("GET", "/hello",
                  [](std::shared_ptr<Exchange> ex) { ex->Respond(200, "text/plain", "hello"); });
    server_.Route("POST", "/echo", [](std::shared_ptr<Exchange> ex) {
      ex->Respond(200, "application/octet-stream", ex->request().body);
    });
    server_.Route("GET", "/stream", [this](std::shared_ptr<Exchange> ex) {
      ex->StartStream(200, "text/event-stream");
      std::lock_guard lock(writers_mu_);
      writers_.emplace_back([ex] {  // stands in for the engine's notifier thread
        for (int i = 0; i < 4; ++i) {
          ex->Write("data: " + std::to_string(i) + "\n\n");
          std::this_thread::sleep_for(milliseconds(30));
        }
        ex->End();
      });
    });
    ASSERT_TRUE(server_.Start().ok());
  }

  HttpServer server_{ServerOptions{.port = 0}};
  std::mutex writers_mu_;
  std::vector<std::jthread> writers_;  // joined before server_ is destroyed
};

TEST_F(ClientAgainstServerTest, ManyConcurrentRequestsFromOneThread) {
  net::io_context ioc;
  HttpClient client(ioc);
  constexpr int kRequests = 300;
  int ok = 0;
  int finished = 0;
  for (int i = 0; i < kRequests; ++i) {
    auto status = std::make_shared<int>(0);
    client.Request(To(server_.port(), "/hello", milliseconds(10000)),
                   {.on_status_headers = [status](int s, const Headers&) { *status = s; },
                    .on_done =
                        [&, status](absl::Status s) {
                          ++finished;
                          if (s.ok() && *status == 200) ++ok;
                        }});
  }
  ioc.run();
  EXPECT_EQ(finished, kRequests);
  EXPECT_EQ(ok, kRequests);
}

size_t AppendToString(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

size_t CountWrites(char* data, size_t size, size_t count, void* out) {
  auto* pieces = static_cast<std::vector<std::string>*>(out);
  pieces->emplace_back(data, size * count);
  return size * count;
}

TEST_F(ClientAgainstServerTest, CurlReusesTheConnectionAndGetsJsonErrors) {
  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  std::string body;
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  const std::string base = "http://127.0.0.1:" + std::to_string(server_.port());
  for (const char* path : {"/hello", "/missing", "/hello"}) {
    body.clear();
    curl_easy_setopt(curl, CURLOPT_URL, (base + path).c_str());
    ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (std::string_view(path) == "/missing") {
      EXPECT_EQ(status, 404);
      EXPECT_NE(body.find(R"("code":"not_found")"), std::string::npos) << body;
    } else {
      EXPECT_EQ(status, 200);
      EXPECT_EQ(body, "hello");
    }
  }
  long new_connections = -1;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
  EXPECT_EQ(new_connections, 0);  // the last request reused the connection
  curl_easy_cleanup(curl);
}

TEST_F(ClientAgainstServerTest, CurlPostsALargeBody) {
  CURL* curl = curl_easy_init();
  const std::string payload(2 << 20, 'p');  // large enough for Expect: 100-continue
  std::string body;
  const std::string url = "http://127.0.0.1:" + std::to_string(server_.port()) + "/echo";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, payload);
  curl_easy_cleanup(curl);
}

TEST_F(ClientAgainstServerTest, CurlReceivesTheStreamPieceByPiece) {
  CURL* curl = curl_easy_init();
  std::vector<std::string> pieces;
  const std::string url = "http://127.0.0.1:" + std::to_string(server_.port()) + "/stream";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CountWrites);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &pieces);
  ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
  std::string all;
  for (const auto& piece : pieces) all += piece;
  EXPECT_EQ(all, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
  EXPECT_GE(pieces.size(), 3u);
  curl_easy_cleanup(curl);
}

}  // namespace
}  // namespace surge::server::http
