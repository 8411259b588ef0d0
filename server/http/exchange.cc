#include "server/http/exchange.h"

#include <exception>

#include "base/logging.h"
#include "server/http/connection.h"

namespace surge::server::http {
namespace {

void RunGuarded(const std::function<void()>& fn, const char* what) {
  try {
    fn();
  } catch (const std::exception& e) {
    SURGE_LOG_ERROR("http: {} threw: {}", what, e.what());
  } catch (...) {
    SURGE_LOG_ERROR("http: {} threw a non-standard exception", what);
  }
}

}  // namespace

Exchange::Exchange(std::shared_ptr<detail::Connection> connection, uint64_t id, Request request)
    : connection_(std::move(connection)), id_(id), request_(std::move(request)) {}

Exchange::~Exchange() {
  if (answered_.load() || closed_.load()) return;
  connection_->Post([connection = connection_.get(), id = id_] { connection->Abandon(id); });
}

void Exchange::Respond(int status, std::string content_type, std::string body,
                       Headers extra_headers) {
  answered_.store(true);
  const size_t payload = body.size();
  connection_->AddPendingBytes(payload);
  const bool posted = connection_->Post(
      [connection = connection_.get(), id = id_, status, content_type = std::move(content_type),
       body = std::move(body), extra_headers = std::move(extra_headers)]() mutable {
        connection->Respond(id, status, std::move(content_type), std::move(body),
                            std::move(extra_headers));
      });
  if (!posted) connection_->SubPendingBytes(payload);
}

void Exchange::StartStream(int status, std::string content_type, Headers extra_headers) {
  connection_->Post([connection = connection_.get(), id = id_, status,
                     content_type = std::move(content_type),
                     extra_headers = std::move(extra_headers)]() mutable {
    connection->StartStream(id, status, std::move(content_type), std::move(extra_headers));
  });
}

void Exchange::Write(std::string chunk) {
  const size_t payload = chunk.size();
  if (payload == 0) return;
  connection_->AddPendingBytes(payload);
  const bool posted = connection_->Post(
      [connection = connection_.get(), id = id_, chunk = std::move(chunk)]() mutable {
        connection->WriteChunk(id, std::move(chunk));
      });
  if (!posted) connection_->SubPendingBytes(payload);
}

void Exchange::End() {
  answered_.store(true);
  connection_->Post([connection = connection_.get(), id = id_] { connection->End(id); });
}

void Exchange::OnClose(std::function<void()> fn) {
  connection_->Post([self = shared_from_this(), fn = std::move(fn)]() mutable {
    self->SetOnClose(std::move(fn));
  });
}

void Exchange::Post(std::function<void()> fn) {
  connection_->Post([fn = std::move(fn)] { RunGuarded(fn, "Exchange::Post function"); });
}

size_t Exchange::pending_write_bytes() const { return connection_->pending_write_bytes(); }

void Exchange::SetOnClose(std::function<void()> fn) {
  if (on_close_done_) return;
  if (closed_.load()) {
    on_close_done_ = true;
    RunGuarded(fn, "OnClose callback");
    return;
  }
  on_close_ = std::move(fn);
}

void Exchange::NotifyClosed() {
  closed_.store(true);
  if (on_close_done_) return;
  on_close_done_ = true;
  std::function<void()> fn = std::move(on_close_);
  on_close_ = nullptr;
  if (fn) RunGuarded(fn, "OnClose callback");
}

void Exchange::NotifyComplete() {
  on_close_done_ = true;
  on_close_ = nullptr;
}

}  // namespace surge::server::http
