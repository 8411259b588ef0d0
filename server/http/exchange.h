// Exchange: one request/response exchange on a connection of HttpServer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http/request.h"

namespace surge::server::http {

namespace detail {
class Connection;
}  // namespace detail

// A handler receives the Exchange of a fully read request and answers it,
// at once or later, from any thread: either Respond() once, or StartStream(),
// any number of Write()s and End(). The first answer wins; calls that do not
// fit the state (a second Respond, Write before StartStream, anything after
// End) are ignored.
//
// Ownership: handlers keep the shared_ptr as long as they need it. Dropping
// the last reference without answering is a handler bug; the client then gets
// a 500 (or, mid-stream, a closed connection) so it never hangs.
//
// Client disconnect: the connection watches its socket while the handler
// works. If the client goes away before the answer is complete, closed()
// turns true and the OnClose() callback runs once on the I/O thread; Write()
// and End() become no-ops. The callback is released after it runs or once the
// answer is complete, so it may capture the Exchange itself.
//
// Backpressure: pending_write_bytes() counts payload bytes handed to
// Respond()/Write() that are not yet written to the socket. A writer that
// cannot keep up (a slow reader) should pause while it is large. A socket
// write that does not finish within ServerOptions::idle_timeout closes the
// connection.
//
// Thread safety: every method is thread-safe. Mutating calls post to the
// connection's strand and take effect in the order they were made from one
// thread. After HttpServer::Stop() they do nothing (Post()ed functions are
// dropped, not run).
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange();

  const Request& request() const { return request_; }

  // A complete response with Content-Length. The HTTP layer adds
  // Content-Length and Connection itself; `extra_headers` must not carry
  // framing fields (Content-Length, Transfer-Encoding, Connection are dropped).
  // Respond() after StartStream() aborts the stream (closes the connection).
  void Respond(int status, std::string content_type, std::string body, Headers extra_headers = {});

  // Streaming: sends the header now (chunked transfer encoding; for an
  // HTTP/1.0 client the body is delimited by closing the connection).
  void StartStream(int status, std::string content_type, Headers extra_headers = {});
  // Sends one chunk as soon as the socket allows. Empty chunks are ignored.
  void Write(std::string chunk);
  // Terminates the stream.
  void End();

  // Sets the function to run once (on the I/O thread) if the client goes away
  // before the answer is complete. If the client is already gone, fn runs
  // soon. Set it before starting slow work.
  void OnClose(std::function<void()> fn);
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Runs fn on this connection's strand, serialized with its I/O.
  void Post(std::function<void()> fn);

  size_t pending_write_bytes() const;

 private:
  friend class detail::Connection;
  Exchange(std::shared_ptr<detail::Connection> connection, uint64_t id, Request request);

  // Called by the connection on its strand: the client left before the
  // answer was complete (runs the OnClose callback), or the answer is
  // complete (the callback will never run and is released).
  void NotifyClosed();
  void NotifyComplete();
  void SetOnClose(std::function<void()> fn);

  const std::shared_ptr<detail::Connection> connection_;
  const uint64_t id_;
  const Request request_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> answered_{false};  // Respond() or End() was called
  // Strand only.
  std::function<void()> on_close_;
  bool on_close_done_ = false;  // ran, or can no longer run
};

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

}  // namespace surge::server::http
