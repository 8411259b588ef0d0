// Connection: lifecycle and the read side. The write side is in
// connection_write.cc.
#include "server/http/connection.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace surge::server::http::detail {
namespace {

constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr size_t kReadSomeBytes = 4096;

std::string FormatRemote(const tcp::socket& socket) {
  error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  const auto address = endpoint.address();
  if (address.is_v6()) return absl::StrCat("[", address.to_string(), "]:", endpoint.port());
  return absl::StrCat(address.to_string(), ":", endpoint.port());
}

bool IsHttpError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// A field value as absl::string_view, trimmed of surrounding whitespace.
absl::string_view Trimmed(beast::string_view value) {
  return absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size()));
}

}  // namespace

Connection::Connection(std::shared_ptr<ServerCore> core, tcp::socket socket)
    : core_(std::move(core)),
      strand_(socket.get_executor()),
      socket_(std::move(socket)),
      timer_(strand_),
      remote_(FormatRemote(socket_)) {}

Connection::~Connection() {
  if (registry_id_ != 0) core_->Unregister(registry_id_);
}

void Connection::Launch(const std::shared_ptr<ServerCore>& core, tcp::socket socket) {
  auto connection = std::make_shared<Connection>(core, std::move(socket));
  connection->registry_id_ = core->Register(connection);
  if (connection->registry_id_ == 0) return;  // stopped: the socket closes with `connection`
  net::post(connection->strand_, [connection] { connection->Start(); });
}

bool Connection::Post(std::function<void()> fn) {
  return core_->Post(strand_, [self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

void Connection::Start() {
  if (phase_ == Phase::kClosed) return;  // Stop() came first
  error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);  // stream chunks leave at once
  WaitForRequest();
}

void Connection::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  error_code ec;
  socket_.close(ec);
  DisarmTimer();
  if (exchange_id_ != 0) EndExchange(/*client_gone=*/answer_ != Answer::kComplete);
  size_t dropped = 0;
  for (const Outgoing& out : queue_) dropped += out.payload_bytes;
  queue_.clear();
  SubPendingBytes(dropped);
  core_->Unregister(registry_id_);
}

void Connection::Drain() {
  if (phase_ == Phase::kWaiting && buffer_.size() == 0 && !read_request_after_cancel_) {
    BeginGracefulClose();
  }
}

void Connection::WaitForRequest() {
  phase_ = Phase::kWaiting;
  if (buffer_.size() > 0) {  // a pipelined request is already here
    if (!reading_) {
      ReadRequest();
    } else {
      read_request_after_cancel_ = true;
      error_code ec;
      socket_.cancel(ec);  // OnReadSome() continues with ReadRequest()
    }
    return;
  }
  if (core_->draining.load()) {
    BeginGracefulClose();
    return;
  }
  ArmTimer(core_->options.idle_timeout);
  ReadSome();
}

// One small read, used to wait for a request's first byte, to notice a client
// leaving while its exchange runs, and to discard input while lingering.
void Connection::ReadSome() {
  if (reading_ || phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kLingering) {
    buffer_.clear();
  } else if (buffer_.size() >= core_->options.max_header_bytes) {
    return;  // enough read ahead; write errors will tell if the client leaves
  }
  reading_ = true;
  socket_.async_read_some(
      buffer_.prepare(kReadSomeBytes),
      [self = shared_from_this()](const error_code& ec, size_t n) { self->OnReadSome(ec, n); });
}

void Connection::OnReadSome(const error_code& ec, size_t n) {
  reading_ = false;
  if (!ec) buffer_.commit(n);
  switch (phase_) {
    case Phase::kWaiting:
      if (read_request_after_cancel_) {
        read_request_after_cancel_ = false;
        ReadRequest();
      } else if (ec) {
        Close();  // the client left, or the idle timer closed us
      } else {
        ReadRequest();
      }
      return;
    case Phase::kActive:
    case Phase::kLingering:
      if (ec) {
        Close();  // in kActive this tells the handler the client is gone
      } else {
        ReadSome();
      }
      return;
    case Phase::kReading:
    case Phase::kRejecting:
    case Phase::kClosed:
      return;
  }
}

void Connection::ReadRequest() {
  phase_ = Phase::kReading;
  timed_out_ = false;
  ArmTimer(core_->options.read_timeout);
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(
      std::min<size_t>(core_->options.max_header_bytes, std::numeric_limits<uint32_t>::max())));
  parser_->body_limit(core_->options.max_body_bytes);
  bhttp::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
}

void Connection::OnHeader(const error_code& ec) {
  if (phase_ != Phase::kReading) return;
  if (ec || timed_out_) {  // timed_out_: the deadline raced a successful read
    OnRequestError(ec);
    return;
  }
  const auto& message = parser_->get();
  const auto num_fields = static_cast<size_t>(std::distance(message.begin(), message.end()));
  if (num_fields > core_->options.max_headers) {
    Reject(431,
           absl::StrCat("too many header fields (", num_fields, "; limit ",
                        core_->options.max_headers, ")"),
           "too_many_headers");
    return;
  }
  // Beast treats a non-chunked transfer coding as "no body", which would let
  // the body be read as the next request: refuse every coding but chunked.
  const auto coding = message.find(bhttp::field::transfer_encoding);
  if (coding != message.end() && !absl::EqualsIgnoreCase(Trimmed(coding->value()), "chunked")) {
    Reject(400, "unsupported Transfer-Encoding (only chunked is supported)",
           "unsupported_transfer_encoding");
    return;
  }
  bool send_continue = false;
  const auto expect = message.find(bhttp::field::expect);
  if (expect != message.end()) {
    if (!absl::EqualsIgnoreCase(Trimmed(expect->value()), "100-continue")) {
      Reject(417, "unsupported Expect (only 100-continue is supported)", "expectation_failed");
      return;
    }
    send_continue = message.version() >= 11 && buffer_.size() == 0;
  }
  if (parser_->is_done()) {
    Dispatch();
    return;
  }
  if (send_continue) Enqueue("HTTP/1.1 100 Continue\r\n\r\n", 0);
  bhttp::async_read(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& read_ec, size_t) { self->OnBody(read_ec); });
}

void Connection::OnBody(const error_code& ec) {
  if (phase_ != Phase::kReading) return;
  if (ec) {
    OnRequestError(ec);
  } else {
    Dispatch();
  }
}

void Connection::OnRequestError(const error_code& ec) {
  const ServerOptions& options = core_->options;
  if (timed_out_) {
    Reject(408, absl::StrCat("request not received within ", options.read_timeout.count(), " ms"),
           "request_timeout");
  } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    Reject(431, absl::StrCat("request header larger than ", options.max_header_bytes, " bytes"),
           "header_too_large");
  } else if (ec == bhttp::error::body_limit) {
    Reject(413, absl::StrCat("request body larger than ", options.max_body_bytes, " bytes"),
           "body_too_large");
  } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
             !IsHttpError(ec)) {
    Close();  // the client left mid-request; nobody to answer
  } else {
    Reject(400, absl::StrCat("malformed HTTP request: ", ec.message()), "bad_request");
  }
}

void Connection::Dispatch() {
  DisarmTimer();
  auto& message = parser_->get();
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.path = request.target.substr(0, request.target.find('?'));
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.remote = remote_;
  keep_alive_requested_ = message.keep_alive();
  http10_ = message.version() < 11;
  head_request_ = message.method() == bhttp::verb::head;
  parser_.reset();

  exchange_id_ = ++last_exchange_id_;
  std::shared_ptr<Exchange> exchange(
      new Exchange(shared_from_this(), exchange_id_, std::move(request)));
  exchange_ = exchange;
  answer_ = Answer::kNone;
  close_after_answer_ = false;
  phase_ = Phase::kActive;
  core_->num_active_exchanges.fetch_add(1, std::memory_order_relaxed);
  ReadSome();  // notice the client leaving while the handler works
  try {
    core_->routes.Dispatch(exchange);
  } catch (const std::exception& e) {
    SURGE_LOG_ERROR("http: handler for {} {} threw: {}", exchange->request().method,
                    exchange->request().path, e.what());
    exchange->Respond(500, "application/json",
                      ErrorJson("internal error", "internal_error", "server_error"));
  } catch (...) {
    SURGE_LOG_ERROR("http: handler threw a non-standard exception");
    exchange->Respond(500, "application/json",
                      ErrorJson("internal error", "internal_error", "server_error"));
  }
}

void Connection::Reject(int status, std::string_view message, std::string_view code) {
  SURGE_LOG_DEBUG("http: {} from {}: {}", status, remote_, message);
  DisarmTimer();
  parser_.reset();
  phase_ = Phase::kRejecting;
  std::string body = ErrorJson(message, code);
  Enqueue(absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                       "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                       "\r\nConnection: close\r\n\r\n", body),
          0);
}

void Connection::BeginGracefulClose() {
  phase_ = Phase::kLingering;
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  ArmTimer(std::min<std::chrono::milliseconds>(kLingerTime, core_->options.read_timeout));
  ReadSome();
}

void Connection::ArmTimer(std::chrono::milliseconds after) {
  const uint64_t generation = ++timer_generation_;
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
    self->OnTimer(ec, generation);
  });
}

void Connection::DisarmTimer() {
  ++timer_generation_;
  timer_.cancel();
}

void Connection::OnTimer(const error_code& ec, uint64_t generation) {
  if (ec || generation != timer_generation_ || phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kReading) {
    timed_out_ = true;  // the cancelled read answers 408
    error_code cancel_ec;
    socket_.cancel(cancel_ec);
    return;
  }
  Close();  // idle too long, a write stalled, or lingering is over
}

}  // namespace surge::server::http::detail
