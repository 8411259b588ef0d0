// HttpServer: the asynchronous HTTP/1.1 server under `surge serve` and
// `surge route`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "server/http/exchange.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace surge::server::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 = ephemeral; read the bound port from port()
  int io_threads = 1;
  size_t max_header_bytes = 16 * 1024;  // request line + fields
  size_t max_body_bytes = 8 << 20;
  // Whole request (header and body) from its first byte, against slow clients.
  std::chrono::milliseconds read_timeout{30000};
  // A connection waiting for its (next) request is closed after this; a
  // socket write that does not finish within it closes the connection too.
  std::chrono::milliseconds idle_timeout{60000};
  size_t max_connections = 4096;
  size_t max_headers = 100;  // field count
};

namespace detail {
struct ServerCore;
}  // namespace detail

// Accepts connections and reads requests with limits, then hands each
// complete request to its handler as an Exchange (see exchange.h). Idle and
// streaming connections hold no thread: all I/O is asynchronous on
// `io_threads` threads owned by the server, each connection on its own strand.
// One request at a time per connection (pipelined requests wait their turn).
//
// Model: Route()* → Start() → [StopAccepting() → drain] → Stop().
// Handlers run on an I/O thread and must not block: hand slow work to another
// thread and answer through the Exchange from there.
//
// Errors the HTTP layer answers itself (JSON in OpenAI's shape, then the
// connection is closed): malformed request 400, header too large or too many
// fields 431, body over the limit 413 (from Content-Length, before reading the
// body), request not complete within read_timeout 408, unsupported
// Transfer-Encoding 400, unsupported Expect 417, no route 404, wrong method
// 405 with Allow, connection limit reached 503 (type "server_error"). The
// server keeps serving everyone else.
//
// Thread safety: Route()/SetFallback() before Start() only. Start(), Stop()
// and StopAccepting() from one controlling thread; port(), num_connections()
// and num_active_exchanges() from any thread.
class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  // Stop()s if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Exact path match (the target without its query) per method.
  void Route(std::string method, std::string path, Handler handler);
  // Every path that starts with `prefix` and has no exact route, per method
  // (e.g. "/admin/models/" for "/admin/models/{name}/load"). The handler
  // reads the rest of the path from the request.
  void RoutePrefix(std::string method, std::string prefix, Handler handler);
  // Handles everything no route matches (unknown path or method) instead of
  // the built-in 404/405.
  void SetFallback(Handler handler);

  // Binds, listens and starts the I/O threads.
  absl::Status Start();
  uint16_t port() const { return port_; }

  // Drain: closes the listener so new connects are refused; open exchanges
  // finish normally, their responses carry `Connection: close`, and idle
  // keep-alive connections are closed.
  void StopAccepting();
  // Closes every connection (running OnClose callbacks of unfinished
  // exchanges) and joins the I/O threads. Idempotent.
  void Stop();

  size_t num_connections() const;
  size_t num_active_exchanges() const;

  // The server's io_context, e.g. to run an HttpClient on the same threads
  // (the router does). Valid until the server is destroyed.
  boost::asio::io_context& io_context();

 private:
  class Listener;

  std::shared_ptr<detail::ServerCore> core_;
  std::unique_ptr<Listener> listener_;
  std::vector<std::jthread> threads_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace surge::server::http
