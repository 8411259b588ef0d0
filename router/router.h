// Router: `surge route` — an OpenAI-compatible front for several replicas
// (`surge serve` or any OpenAI-compatible server).
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "router/discovery.h"
#include "router/health_checker.h"
#include "router/periodic_task.h"
#include "router/router_context.h"
#include "server/http/server.h"

namespace surge::router {

// Endpoints: /v1/chat/completions, /v1/completions, /tokenize, /detokenize
// and every other path are relayed to a replica (ProxyCall); /v1/models is
// the union of the models the replicas in rotation serve; /health (200 while
// some replica is in rotation, else 503; 503 while draining) and /metrics
// are the router's own.
//
// Threads: the HTTP server's I/O threads carry client connections and the
// upstream calls; one background thread (owned here) runs discovery, health
// checks and the admission queue's timeouts.
//
// Lifecycle: Create() → Start() → [BeginDrain() → wait for idle()] → Stop().
// Ownership: owns the HTTP server, the background thread and its tasks;
// shares the RouterContext with the calls in flight.
// Thread safety: Start/BeginDrain/Stop from one controlling thread; idle()
// and port() from any thread.
class Router {
 public:
  static absl::StatusOr<std::unique_ptr<Router>> Create(
      RouterOptions options, const base::Clock& clock = base::Clock::System());
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Loads the replica lists (a bad --replica or replicas file fails here),
  // starts health checks and listens.
  absl::Status Start();
  uint16_t port() const { return http_->port(); }
  // /health turns 503, the listener closes; requests in flight finish.
  void BeginDrain();
  // No request in flight or waiting in the admission queue.
  bool idle() const { return ctx_->in_flight().load() == 0 && ctx_->limiter().queue_depth() == 0; }
  void Stop();

  RouterContext& context() { return *ctx_; }

 private:
  Router(RouterOptions options, const base::Clock& clock, std::unique_ptr<Policy> policy);
  void Routes();
  server::http::Handler Guard(server::http::Handler h);
  void Health(server::http::Exchange& ex);
  void Metrics(server::http::Exchange& ex);
  void Models(server::http::Exchange& ex);
  void Proxy(std::shared_ptr<server::http::Exchange> ex, std::string endpoint, bool generation);

  std::unique_ptr<boost::asio::io_context> background_;
  std::unique_ptr<server::http::HttpServer> http_;
  std::shared_ptr<RouterContext> ctx_;
  std::unique_ptr<HealthChecker> health_;
  std::unique_ptr<Discovery> discovery_;
  std::unique_ptr<PeriodicTask> health_task_;
  std::unique_ptr<PeriodicTask> queue_task_;
  std::jthread background_thread_;
  std::atomic<bool> draining_{false};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace surge::router
