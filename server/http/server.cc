#include "server/http/server.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/logging.h"
#include "base/status.h"
#include "server/http/asio.h"
#include "server/http/connection.h"
#include "server/http/server_core.h"

namespace surge::server::http {
namespace {

constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

void RunIoThread(net::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      SURGE_LOG_ERROR("http: I/O thread caught: {}", e.what());
    } catch (...) {
      SURGE_LOG_ERROR("http: I/O thread caught a non-standard exception");
    }
  }
}

absl::StatusOr<tcp::endpoint> ResolveListenEndpoint(const std::string& host, uint16_t port) {
  error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve listen host '", host, "': ", ec.message()));
  }
  return results.begin()->endpoint();
}

}  // namespace

// The accept loop. Lives on its own strand; owned by HttpServer, which joins
// the I/O threads before destroying it, so handlers may capture `this`.
class HttpServer::Listener {
 public:
  explicit Listener(std::shared_ptr<detail::ServerCore> core)
      : core_(std::move(core)),
        strand_(net::make_strand(core_->ioc)),
        acceptor_(strand_),
        retry_timer_(strand_),
        work_(net::make_work_guard(core_->ioc)) {}

  absl::StatusOr<uint16_t> Open(const std::string& host, uint16_t port) {
    SURGE_ASSIGN_OR_RETURN(const tcp::endpoint endpoint, ResolveListenEndpoint(host, port));
    const std::string where = absl::StrCat(host, ":", port);
    error_code ec;
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return absl::UnavailableError(absl::StrCat("open socket for ", where, ": ", ec.message()));
    }
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(endpoint, ec); ec) {
      return absl::UnavailableError(absl::StrCat("bind ", where, ": ", ec.message()));
    }
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) {
      return absl::UnavailableError(absl::StrCat("listen on ", where, ": ", ec.message()));
    }
    const tcp::endpoint bound = acceptor_.local_endpoint(ec);
    if (ec) return absl::UnavailableError(absl::StrCat("local endpoint: ", ec.message()));
    return bound.port();
  }

  void Accept() {
    acceptor_.async_accept(
        net::make_strand(core_->ioc),
        [this](const error_code& ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
  }

  // Strand only.
  void Close() {
    error_code ec;
    acceptor_.close(ec);
    retry_timer_.cancel();
  }

  const net::any_io_executor& strand() const { return strand_; }
  void ReleaseWork() { work_.reset(); }

 private:
  void OnAccept(const error_code& ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      // Typically out of file descriptors: back off instead of spinning.
      SURGE_LOG_WARN("http: accept failed: {}", ec.message());
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([this](const error_code& wait_ec) {
        if (!wait_ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    if (core_->num_connections.load() >= core_->options.max_connections) {
      RefuseBusy(std::move(socket));
    } else {
      detail::Connection::Launch(core_, std::move(socket));
    }
    Accept();
  }

  // Best effort, without waiting: the connection limit protects the server.
  static void RefuseBusy(tcp::socket socket) {
    static const std::string kResponse = [] {
      const std::string body =
          ErrorJson("too many connections, retry later", "server_busy", "server_error");
      return absl::StrCat(
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Content-Length: ",
          body.size(), "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n", body);
    }();
    error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(net::buffer(kResponse), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
  }

  std::shared_ptr<detail::ServerCore> core_;
  net::any_io_executor strand_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  net::executor_work_guard<net::io_context::executor_type> work_;
};

HttpServer::HttpServer(ServerOptions options)
    : core_(std::make_shared<detail::ServerCore>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string method, std::string path, Handler handler) {
  SURGE_CHECK_MSG(!started_, "HttpServer::Route() after Start()");
  core_->routes.Add(std::move(method), std::move(path), std::move(handler));
}

void HttpServer::RoutePrefix(std::string method, std::string prefix, Handler handler) {
  SURGE_CHECK_MSG(!started_, "HttpServer::RoutePrefix() after Start()");
  core_->routes.AddPrefix(std::move(method), std::move(prefix), std::move(handler));
}

void HttpServer::SetFallback(Handler handler) {
  SURGE_CHECK_MSG(!started_, "HttpServer::SetFallback() after Start()");
  core_->routes.SetFallback(std::move(handler));
}

absl::Status HttpServer::Start() {
  if (started_) return absl::FailedPreconditionError("HttpServer already started");
  const ServerOptions& options = core_->options;
  if (options.io_threads < 1) return absl::InvalidArgumentError("io_threads must be at least 1");
  listener_ = std::make_unique<Listener>(core_);
  SURGE_ASSIGN_OR_RETURN(port_, listener_->Open(options.host, options.port));
  started_ = true;
  listener_->Accept();
  for (int i = 0; i < options.io_threads; ++i) {
    threads_.emplace_back([core = core_] { RunIoThread(core->ioc); });
  }
  SURGE_LOG_INFO("http: listening on {}:{} ({} I/O threads)", options.host, port_,
                 options.io_threads);
  return absl::OkStatus();
}

void HttpServer::StopAccepting() {
  if (!started_ || stopped_) return;
  core_->draining.store(true);
  net::post(listener_->strand(), [listener = listener_.get()] { listener->Close(); });
  for (auto& connection : core_->Connections()) {
    net::post(connection->strand(), [connection] { connection->Drain(); });
  }
}

void HttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  for (const auto& thread : threads_) {
    SURGE_CHECK_MSG(thread.get_id() != std::this_thread::get_id(),
                    "HttpServer::Stop() called from one of its own I/O threads");
  }
  core_->draining.store(true);
  core_->MarkStopped();  // from now on nothing new is queued
  net::post(listener_->strand(), [listener = listener_.get()] { listener->Close(); });
  for (auto& connection : core_->Connections()) {
    net::post(connection->strand(), [connection] { connection->Close(); });
  }
  listener_->ReleaseWork();
  threads_.clear();  // joins: run() returns once every operation has finished
}

size_t HttpServer::num_connections() const { return core_->num_connections.load(); }

size_t HttpServer::num_active_exchanges() const { return core_->num_active_exchanges.load(); }

boost::asio::io_context& HttpServer::io_context() { return core_->ioc; }

}  // namespace surge::server::http
