// HttpClient: a small asynchronous HTTP/1.1 client (tests, `surge bench`,
// `surge route`), and Fetch(), a blocking wrapper for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/http/request.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace surge::server::http {

struct ClientRequest {
  std::string method = "GET";
  std::string host = "127.0.0.1";  // IP address or name
  uint16_t port = 80;
  std::string target = "/";  // path + query
  // Host, Content-Length and Connection: close are added unless present.
  Headers headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{5000};
  // Longest wait for the next bytes: sending the request, the status line,
  // and between body pieces (so a slow but live stream never times out).
  std::chrono::milliseconds read_timeout{30000};
};

// Callbacks run on the client's io_context thread, in this order:
// on_status_headers once (if a response header arrived), on_body_chunk for
// every piece of the body as it arrives (chunked framing removed; the view is
// valid during the call), then on_done exactly once: OK when the whole
// response arrived; Unavailable (connect failed, connection lost),
// DeadlineExceeded (a timeout), Internal (not valid HTTP) or Cancelled.
// Any callback may be empty.
struct ClientCallbacks {
  std::function<void(int status, const Headers& headers)> on_status_headers;
  std::function<void(std::string_view chunk)> on_body_chunk;
  std::function<void(absl::Status status)> on_done;
};

// A request in flight. Cancel() is thread-safe and idempotent: unless the
// request already finished, on_done gets Cancelled and nothing else is
// delivered afterwards.
class ClientCall {
 public:
  virtual ~ClientCall() = default;
  virtual void Cancel() = 0;
};

// Issues requests on an io_context the caller runs (one thread can carry
// thousands of concurrent requests; each gets its own strand, so several
// threads work too). One connection per request, closed after the response
// (no pooling yet).
//
// Thread safety: Request() is thread-safe. The io_context must outlive every
// call (run it until all on_done callbacks have run).
class HttpClient {
 public:
  explicit HttpClient(boost::asio::io_context& ioc) : ioc_(ioc) {}

  // Starts the request and returns at once. Keep the returned handle only if
  // you may want to cancel; the call lives until on_done either way.
  std::shared_ptr<ClientCall> Request(ClientRequest request, ClientCallbacks callbacks);

 private:
  boost::asio::io_context& ioc_;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;

  // First field named `name` (case-insensitive), or std::nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

// Blocking convenience for tests: runs the request on a private io_context in
// the calling thread and returns the whole response.
absl::StatusOr<ClientResponse> Fetch(ClientRequest request);

}  // namespace surge::server::http
