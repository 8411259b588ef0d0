// Connection: one accepted TCP connection of HttpServer (internal).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/http/asio.h"
#include "server/http/exchange.h"
#include "server/http/server_core.h"

namespace surge::server::http::detail {

// Reads requests one at a time, hands each to the route table as an
// Exchange, writes the answer, and repeats while keep-alive allows.
//
// Phases: kWaiting (idle, a read waits for the next request's first byte,
// idle_timeout) → kReading (parser reads header then body, read_timeout for
// the whole request) → kActive (handler owns the exchange; a read watches for
// the client leaving; writes have a stall deadline of idle_timeout) → back to
// kWaiting, or kLingering (send side shut, incoming bytes discarded for a
// short time so the client reads our last response instead of a reset) →
// kClosed. Errors found while reading go through kRejecting: an error response,
// then kLingering.
//
// Ownership: shared by its pending I/O operations and by the Exchange of the
// current request; it holds the Exchange only weakly.
// Thread safety: Post(), AddPendingBytes(), SubPendingBytes() and
// pending_write_bytes() are thread-safe; everything else runs on strand().
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerCore> core, tcp::socket socket);
  ~Connection();

  // Registers with the core and starts serving. Called by the listener.
  static void Launch(const std::shared_ptr<ServerCore>& core, tcp::socket socket);

  const net::any_io_executor& strand() const { return strand_; }
  bool Post(std::function<void()> fn);
  void AddPendingBytes(size_t n) { pending_bytes_.fetch_add(n, std::memory_order_relaxed); }
  void SubPendingBytes(size_t n) { pending_bytes_.fetch_sub(n, std::memory_order_relaxed); }
  size_t pending_write_bytes() const { return pending_bytes_.load(std::memory_order_relaxed); }

  // Strand only. Close() runs OnClose of an unfinished exchange.
  void Close();
  void Drain();

  // Strand only: the Exchange's operations. A stale `id` (an exchange that
  // already ended) makes them no-ops. Payload bytes were added to
  // pending_write_bytes() by the caller.
  void Respond(uint64_t id, int status, std::string content_type, std::string body,
               Headers extra_headers);
  void StartStream(uint64_t id, int status, std::string content_type, Headers extra_headers);
  void WriteChunk(uint64_t id, std::string chunk);
  void End(uint64_t id);
  void Abandon(uint64_t id);

 private:
  enum class Phase { kWaiting, kReading, kActive, kRejecting, kLingering, kClosed };
  enum class Answer { kNone, kStreaming, kComplete };
  struct Outgoing {
    std::string data;
    size_t payload_bytes;  // share of pending_bytes_
  };

  void Start();
  // Read side (connection.cc).
  void WaitForRequest();
  void ReadSome();
  void OnReadSome(const error_code& ec, size_t n);
  void ReadRequest();
  void OnHeader(const error_code& ec);
  void OnBody(const error_code& ec);
  void OnRequestError(const error_code& ec);
  void Dispatch();
  void Reject(int status, std::string_view message, std::string_view code);
  void BeginGracefulClose();
  void ArmTimer(std::chrono::milliseconds after);
  void DisarmTimer();
  void OnTimer(const error_code& ec, uint64_t generation);
  // Write side (connection_write.cc).
  void Enqueue(std::string data, size_t payload_bytes);
  void StartWrite();
  void OnWrite(const error_code& ec);
  void MaybeFinishExchange();
  void EndExchange(bool client_gone);
  bool IsCurrent(uint64_t id) const { return id == exchange_id_ && phase_ == Phase::kActive; }

  const std::shared_ptr<ServerCore> core_;
  const net::any_io_executor strand_;
  tcp::socket socket_;
  net::steady_timer timer_;
  const std::string remote_;
  uint64_t registry_id_ = 0;
  std::atomic<size_t> pending_bytes_{0};

  // Everything below: strand only.
  Phase phase_ = Phase::kWaiting;
  uint64_t timer_generation_ = 0;
  beast::flat_buffer buffer_;
  bool reading_ = false;  // a ReadSome() is pending
  bool read_request_after_cancel_ = false;
  bool timed_out_ = false;  // the read deadline cancelled the request read
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;

  // The current exchange.
  uint64_t exchange_id_ = 0;
  uint64_t last_exchange_id_ = 0;
  std::weak_ptr<Exchange> exchange_;
  Answer answer_ = Answer::kNone;
  bool keep_alive_requested_ = false;
  bool http10_ = false;
  bool head_request_ = false;
  bool chunked_ = false;
  bool close_after_answer_ = false;

  std::deque<Outgoing> queue_;
  std::vector<Outgoing> inflight_;
  std::vector<net::const_buffer> buffers_;
  bool writing_ = false;
};

}  // namespace surge::server::http::detail
