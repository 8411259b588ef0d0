// Bad and hostile input: each gets the right status and an OpenAI-shaped
// error body, the connection is closed, and a concurrent well-formed client
// (the Probe) never sees a failure.
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "server/http/client.h"
#include "server/http/server.h"
#include "server/http/test_util.h"

namespace surge::server::http {
namespace {

using std::chrono::milliseconds;
using testing::BodyOf;
using testing::IsErrorBody;
using testing::RawConnection;
using testing::StatusOf;

class HttpLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    options.max_header_bytes = 16 * 1024;
    options.max_body_bytes = 64 * 1024;
    options.max_headers = 100;
    options.read_timeout = milliseconds(400);
    options.idle_timeout = milliseconds(800);
    server_ = std::make_unique<HttpServer>(options);
    server_->Route("GET", "/ok",
                   [](std::shared_ptr<Exchange> ex) { ex->Respond(200, "text/plain", "ok"); });
    server_->Route("POST", "/echo", [](std::shared_ptr<Exchange> ex) {
      ex->Respond(200, "text/plain", ex->request().body);
    });
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    probe_ = std::make_unique<testing::Probe>(port_);
  }

  void TearDown() override {
    // Let the probe complete a few more requests after the abuse, then check
    // it never failed.
    const int target = probe_->successes() + 3;
    for (int i = 0; i < 400 && probe_->successes() < target; ++i) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    probe_->Stop();
    EXPECT_EQ(probe_->failures(), 0);
    EXPECT_GT(probe_->successes(), 0);
    server_->Stop();
  }

  // Sends `bytes` on a fresh connection; expects an error response with
  // `status` and `code`, then the connection closed by the server.
  void ExpectRejected(const std::string& bytes, int status, const std::string& code) {
    RawConnection connection(port_);
    ASSERT_TRUE(connection.connected());
    connection.Send(bytes);  // may fail midway once the server answered
    const std::string response = connection.ReadResponse();
    EXPECT_EQ(StatusOf(response), status) << response.substr(0, 200);
    EXPECT_TRUE(IsErrorBody(BodyOf(response), code)) << BodyOf(response);
    EXPECT_NE(response.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(connection.WaitForClose(milliseconds(3000)));
  }

  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  std::unique_ptr<testing::Probe> probe_;
};

TEST_F(HttpLimitsTest, BodyOverLimitGets413FromContentLengthAlone) {
  // The body is never sent: the answer comes from the header.
  ExpectRejected("POST /echo HTTP/1.1\r\nContent-Length: 104857600\r\n\r\n", 413, "body_too_large");
}

TEST_F(HttpLimitsTest, ChunkedBodyOverLimitGets413) {
  std::string request = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) request += "1000\r\n" + std::string(4096, 'x') + "\r\n";
  ExpectRejected(request, 413, "body_too_large");
}

TEST_F(HttpLimitsTest, BodyWithinLimitIsEchoed) {
  RawConnection connection(port_);
  const std::string body(60 * 1024, 'b');
  ASSERT_TRUE(connection.Send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                              std::string("f000\r\n") + body + "\r\n0\r\n\r\n"));
  const std::string response = connection.ReadResponse();
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_EQ(BodyOf(response), body);
}

TEST_F(HttpLimitsTest, HeaderFloodsGet431) {
  std::string many = "GET /ok HTTP/1.1\r\n";
  for (int i = 0; i < 200; ++i) many += "X-Flood-" + std::to_string(i) + ": 1\r\n";
  ExpectRejected(many + "\r\n", 431, "too_many_headers");
  ExpectRejected("GET /ok HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n", 431,
                 "header_too_large");
}

TEST_F(HttpLimitsTest, BodyThatNeverFinishesGets408) {
  const auto start = std::chrono::steady_clock::now();
  ExpectRejected("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a few bytes", 408,
                 "request_timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2500));
}

TEST_F(HttpLimitsTest, HeaderThatNeverFinishesGets408) {
  ExpectRejected("GET /ok HTTP/1.1\r\nX-Slow: ", 408, "request_timeout");
}

TEST_F(HttpLimitsTest, MalformedRequestsGet400) {
  ExpectRejected("THIS IS NOT HTTP\r\n\r\n", 400, "bad_request");
  ExpectRejected("GET /ok HTTP/9.9\r\n\r\n", 400, "bad_request");
  ExpectRejected("GET /ok HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "bad_request");
  ExpectRejected("POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "bad_request");
  ExpectRejected("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
                 "bad_request");
}

TEST_F(HttpLimitsTest, UnsupportedTransferEncodingAndExpect) {
  ExpectRejected("POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
                 "unsupported_transfer_encoding");
  ExpectRejected("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                 400, "bad_request");
  ExpectRejected("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\nabc", 417,
                 "expectation_failed");
}

TEST_F(HttpLimitsTest, ExpectContinueGetsContinueThenTheAnswer) {
  RawConnection connection(port_);
  ASSERT_TRUE(
      connection.Send("POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  const std::string interim = connection.ReadUntil("\r\n\r\n", milliseconds(2000));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(connection.Send("hello"));
  const std::string response = connection.ReadResponse();
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_EQ(BodyOf(response), "hello");
}

TEST_F(HttpLimitsTest, IdleKeepAliveConnectionIsClosed) {
  RawConnection connection(port_);
  ASSERT_TRUE(connection.Send("GET /ok HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(StatusOf(connection.ReadResponse()), 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(connection.WaitForClose(milliseconds(3000)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(700));
}

TEST(HttpConnectionLimitTest, OverTheLimitGets503) {
  HttpServer server(ServerOptions{.port = 0, .max_connections = 2});
  server.Route("GET", "/ok", [](std::shared_ptr<Exchange> ex) { ex->Respond(200, "", "ok"); });
  ASSERT_TRUE(server.Start().ok());
  RawConnection first(server.port());
  RawConnection second(server.port());
  for (int i = 0; i < 200 && server.num_connections() < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  RawConnection third(server.port());
  const std::string response = third.ReadUntilClose(milliseconds(2000));
  EXPECT_EQ(StatusOf(response), 503);
  EXPECT_TRUE(IsErrorBody(BodyOf(response), "server_busy", "server_error"));
  first.Close();
  for (int i = 0; i < 200 && server.num_connections() > 1; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ClientRequest request;
  request.port = server.port();
  request.target = "/ok";
  auto ok = Fetch(request);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
}

}  // namespace
}  // namespace surge::server::http
