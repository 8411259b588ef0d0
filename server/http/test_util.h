// Helpers for the HTTP tests: a raw blocking socket client (to send bytes no
// well-behaved client would), response picking, and a background probe that
// keeps checking that well-formed requests still succeed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

namespace surge::server::http::testing {

// A blocking TCP connection to 127.0.0.1:port. Not thread-safe.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False if the peer is gone (EPIPE / reset).
  bool Send(std::string_view bytes);
  // Reads until `marker` is in the data received so far, the peer closes, or
  // `timeout` passes; returns everything received (also past the marker).
  std::string ReadUntil(std::string_view marker, std::chrono::milliseconds timeout);
  // Reads until the peer closes or `timeout` passes.
  std::string ReadUntilClose(std::chrono::milliseconds timeout);
  // One complete response with a Content-Length body.
  std::string ReadResponse(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True if the peer closed (EOF or reset) within `timeout`.
  bool WaitForClose(std::chrono::milliseconds timeout);
  void Close();

 private:
  // Appends what arrives within `timeout` to buffer_; false on EOF/error.
  bool ReadMore(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool peer_closed_ = false;
  std::string buffer_;
};

// The status code of a raw response ("HTTP/1.1 413 ..."), or 0.
int StatusOf(std::string_view response);
// The body of a raw response (everything after the blank line).
std::string BodyOf(std::string_view response);
// True if `json` is an OpenAI-shaped error body with this code and type.
bool IsErrorBody(std::string_view json, std::string_view code,
                 std::string_view type = "invalid_request_error");

// Repeats GET /ok on 127.0.0.1:port from its own thread until Stop().
class Probe {
 public:
  explicit Probe(uint16_t port);
  ~Probe() { Stop(); }
  void Stop();
  int successes() const { return successes_.load(); }
  int failures() const { return failures_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> successes_{0};
  std::atomic<int> failures_{0};
  std::jthread thread_;
};

}  // namespace surge::server::http::testing
