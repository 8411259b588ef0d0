// Connection: the write side (answers of the current exchange, write queue).
#include <algorithm>
#include <optional>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "server/http/connection.h"

namespace surge::server::http::detail {
namespace {

constexpr size_t kMaxBuffersPerWrite = 64;

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Handlers choose the extra fields; framing stays ours and a CR/LF must never
// reach the wire from a value.
bool IsAllowedField(const std::string& name, const std::string& value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) return false;
  if (value.find_first_of("\r\n\0", 0, 3) != std::string::npos) return false;
  const absl::string_view n(name.data(), name.size());
  return !absl::EqualsIgnoreCase(n, "content-length") &&
         !absl::EqualsIgnoreCase(n, "transfer-encoding") &&
         !absl::EqualsIgnoreCase(n, "connection");
}

std::string FormatHead(int status, const std::string& content_type,
                       std::optional<size_t> content_length, bool chunked, bool keep_alive,
                       const Headers& extra_headers) {
  std::string head = absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status), "\r\n");
  if (!content_type.empty() && IsAllowedField("Content-Type", content_type)) {
    absl::StrAppend(&head, "Content-Type: ", content_type, "\r\n");
  }
  if (content_length) absl::StrAppend(&head, "Content-Length: ", *content_length, "\r\n");
  if (chunked) absl::StrAppend(&head, "Transfer-Encoding: chunked\r\n");
  absl::StrAppend(&head, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  for (const auto& [name, value] : extra_headers) {
    if (!IsAllowedField(name, value)) {
      SURGE_LOG_WARN("http: dropped response header field '{}'",
                     absl::CEscape(absl::string_view(name.data(), name.size())));
      continue;
    }
    absl::StrAppend(&head, name, ": ", value, "\r\n");
  }
  head += "\r\n";
  return head;
}

}  // namespace

void Connection::Respond(uint64_t id, int status, std::string content_type, std::string body,
                         Headers extra_headers) {
  const size_t payload = body.size();
  if (!IsCurrent(id) || answer_ == Answer::kComplete) {
    SubPendingBytes(payload);
    return;
  }
  if (answer_ == Answer::kStreaming) {
    SURGE_LOG_WARN("http: Respond() after StartStream() for {}; aborting the stream", remote_);
    SubPendingBytes(payload);
    Close();
    return;
  }
  const bool keep_alive = keep_alive_requested_ && !core_->draining.load();
  close_after_answer_ = !keep_alive;
  const bool no_body = status == 204 || status == 304;
  const bool send_body = !no_body && !head_request_;
  answer_ = Answer::kComplete;
  if (auto exchange = exchange_.lock()) exchange->NotifyComplete();
  Enqueue(FormatHead(status, content_type, no_body ? std::nullopt : std::optional<size_t>(payload),
                     false, keep_alive, extra_headers),
          0);
  if (send_body && payload > 0) {
    Enqueue(std::move(body), payload);
  } else {
    SubPendingBytes(payload);
  }
}

void Connection::StartStream(uint64_t id, int status, std::string content_type,
                             Headers extra_headers) {
  if (!IsCurrent(id) || answer_ != Answer::kNone) return;
  // HTTP/1.0 has no chunked coding: the end of the body is the end of the
  // connection.
  chunked_ = !http10_;
  const bool keep_alive = chunked_ && keep_alive_requested_ && !core_->draining.load();
  close_after_answer_ = !keep_alive;
  answer_ = Answer::kStreaming;
  Enqueue(FormatHead(status, content_type, std::nullopt, chunked_, keep_alive, extra_headers), 0);
}

void Connection::WriteChunk(uint64_t id, std::string chunk) {
  const size_t payload = chunk.size();
  if (!IsCurrent(id) || answer_ != Answer::kStreaming || head_request_ || payload == 0) {
    SubPendingBytes(payload);
    return;
  }
  if (!chunked_) {
    Enqueue(std::move(chunk), payload);
    return;
  }
  std::string framed = absl::StrFormat("%x\r\n", payload);
  framed.reserve(framed.size() + payload + 2);
  absl::StrAppend(&framed, chunk, "\r\n");
  Enqueue(std::move(framed), payload);
}

void Connection::End(uint64_t id) {
  if (!IsCurrent(id)) return;
  if (answer_ == Answer::kNone) {
    SURGE_LOG_WARN("http: End() without StartStream() for {}", remote_);
    Respond(id, 500, "application/json",
            ErrorJson("the handler ended a response it never started", "internal_error",
                      "server_error"),
            {});
    return;
  }
  if (answer_ != Answer::kStreaming) return;
  answer_ = Answer::kComplete;
  if (auto exchange = exchange_.lock()) exchange->NotifyComplete();
  if (chunked_ && !head_request_) {
    Enqueue("0\r\n\r\n", 0);
  } else {
    MaybeFinishExchange();
  }
}

void Connection::Abandon(uint64_t id) {
  if (!IsCurrent(id)) return;
  if (answer_ == Answer::kNone) {
    SURGE_LOG_WARN("http: handler for {} dropped its exchange without answering", remote_);
    Respond(
        id, 500, "application/json",
        ErrorJson("the request was dropped without an answer", "internal_error", "server_error"),
        {});
  } else if (answer_ == Answer::kStreaming) {
    SURGE_LOG_WARN("http: handler for {} dropped its stream without End()", remote_);
    Close();  // a truncated chunked body tells the client something went wrong
  }
}

void Connection::Enqueue(std::string data, size_t payload_bytes) {
  queue_.push_back(Outgoing{std::move(data), payload_bytes});
  if (!writing_) StartWrite();
}

void Connection::StartWrite() {
  writing_ = true;
  inflight_.clear();
  buffers_.clear();
  while (!queue_.empty() && inflight_.size() < kMaxBuffersPerWrite) {
    inflight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  for (const Outgoing& out : inflight_) buffers_.push_back(net::buffer(out.data));
  // A client that stops reading must not pin the connection forever. (While
  // reading a request, the read deadline is running and covers 100 Continue.)
  if (phase_ == Phase::kActive || phase_ == Phase::kRejecting) {
    ArmTimer(core_->options.idle_timeout);
  }
  net::async_write(socket_, buffers_, [self = shared_from_this()](const error_code& ec, size_t) {
    self->OnWrite(ec);
  });
}

void Connection::OnWrite(const error_code& ec) {
  writing_ = false;
  size_t written = 0;
  for (const Outgoing& out : inflight_) written += out.payload_bytes;
  inflight_.clear();
  SubPendingBytes(written);
  if (phase_ == Phase::kClosed) return;
  // operation_aborted here comes from the read deadline cancelling the socket
  // while a 100 Continue was in flight; the 408 queued behind it still goes.
  if (ec && ec != net::error::operation_aborted) {
    Close();
    return;
  }
  if (!queue_.empty()) {
    StartWrite();
    return;
  }
  if (phase_ == Phase::kActive) {
    DisarmTimer();
    MaybeFinishExchange();
  } else if (phase_ == Phase::kRejecting) {
    BeginGracefulClose();
  }
}

void Connection::MaybeFinishExchange() {
  if (phase_ != Phase::kActive || answer_ != Answer::kComplete || writing_ || !queue_.empty()) {
    return;
  }
  EndExchange(/*client_gone=*/false);
  if (close_after_answer_ || core_->draining.load()) {
    BeginGracefulClose();
  } else {
    WaitForRequest();
  }
}

void Connection::EndExchange(bool client_gone) {
  if (auto exchange = exchange_.lock()) {
    if (client_gone) {
      exchange->NotifyClosed();
    } else {
      exchange->NotifyComplete();
    }
  }
  exchange_.reset();
  exchange_id_ = 0;
  core_->num_active_exchanges.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace surge::server::http::detail
