// ApiServer answers the OpenAI-compatible HTTP API for the models of a
// ModelRegistry: /v1/completions, /v1/chat/completions (JSON or SSE),
// /v1/models, /health, /metrics, /tokenize, /detokenize, and the admin API
// (/admin/models, /admin/models/{name}/load|unload; admin key only).
//
// A generation request goes: authenticate (API key -> tenant) -> parse ->
// tenant quotas -> response cache (deterministic requests) -> model lease
// (loads the model if needed, on the registry's thread) -> render and
// tokenize (I/O thread) -> submit to the model's engine -> relay its token
// stream. A client that goes away cancels its request at the engine's next
// step. Draining (BeginDrain) turns /health to 503, closes the listener and
// lets in-flight requests finish.
//
// Ownership: borrows the ModelRegistry (must outlive the server); owns the
// HTTP server, the tenant directory, the response cache and the metrics.
// Thread safety: Start/BeginDrain/Stop from one controlling thread; handlers
// run on the I/O threads (and model-load callbacks on the registry's).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/http/server.h"
#include "server/model_registry.h"
#include "server/openai/protocol.h"
#include "server/response_cache.h"
#include "server/server_metrics.h"
#include "server/tenants.h"

namespace surge::server {

// Lets extra routes reuse the server's checks: `admin` wraps a handler with
// the admin-key check (as /admin/... has), `user` with an API-key check that
// also accepts the admin key.
struct RouteGuards {
  std::function<http::Handler(http::Handler)> admin;
  std::function<http::Handler(http::Handler)> user;
};
using RouteHook = std::function<void(http::HttpServer&, const RouteGuards&)>;

struct ApiOptions {
  http::ServerOptions http;
  std::vector<std::string> api_keys;  // --api-key; none and no keys file: no authentication
  std::string keys_file;              // --keys-file: tenants, weights, quotas
  std::string admin_key;              // --admin-key; "": the admin API answers 403
  openai::ParseLimits limits;
  std::optional<std::chrono::milliseconds> queue_timeout;  // per-request queue deadline
  int64_t response_cache_bytes = 0;                        // 0: no response cache
  std::vector<RouteHook> extra_routes;  // more routes (the job API), added with the built-in ones
};

class ApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<ApiServer>> Create(ModelRegistry& registry,
                                                           ApiOptions options);
  ~ApiServer();

  absl::Status Start();
  uint16_t port() const { return http_->port(); }
  // Stop taking new work: /health answers 503, the listener closes.
  void BeginDrain();
  // True once no request is in flight.
  bool idle() const { return in_flight_.load() == 0; }
  void Stop();

  // Used by the handlers (generation.cc, admin_api.cc).
  ModelRegistry& registry() { return registry_; }
  TenantDirectory& tenants() { return *tenants_; }
  ResponseCache& response_cache() { return *response_cache_; }
  const ApiOptions& options() const { return options_; }
  ServerMetrics& metrics() { return *metrics_; }
  std::atomic<int64_t>& in_flight() { return in_flight_; }
  int64_t created() const { return created_; }
  std::string NextId(const char* prefix);
  // Writes an OpenAI-shaped error response and counts it.
  void RespondError(http::Exchange& ex, const absl::Status& status);
  // Leases `model` (loading it if needed, on the registry's thread), then
  // runs `then` on the exchange's strand. Errors are answered here; a client
  // that left while the model loaded is dropped.
  void WithModel(std::shared_ptr<http::Exchange> ex, const std::string& model,
                 std::optional<std::chrono::milliseconds> keep_alive,
                 std::function<void(std::shared_ptr<ModelLease>)> then);

  // A handler of an authenticated route: the exchange and its tenant.
  using TenantHandler =
      std::function<void(std::shared_ptr<http::Exchange>, std::shared_ptr<Tenant>)>;

 private:
  ApiServer(ModelRegistry& registry, ApiOptions options);
  void Routes();
  void ExtraRoutes();  // options_.extra_routes
  // Wraps a handler with authentication (API key -> tenant).
  http::Handler Guard(TenantHandler h);
  // Wraps an admin handler: the admin key or 401/403.
  http::Handler AdminGuard(http::Handler h);
  void Health(std::shared_ptr<http::Exchange> ex);
  void Models(std::shared_ptr<http::Exchange> ex);

  ModelRegistry& registry_;
  ApiOptions options_;
  std::unique_ptr<TenantDirectory> tenants_;
  std::unique_ptr<ResponseCache> response_cache_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
  int64_t created_ = 0;
};

// Handlers (generation.cc, tokenize.cc, admin_api.cc).
void HandleCompletion(ApiServer& server, std::shared_ptr<http::Exchange> ex,
                      std::shared_ptr<Tenant> tenant);
void HandleChat(ApiServer& server, std::shared_ptr<http::Exchange> ex,
                std::shared_ptr<Tenant> tenant);
void HandleTokenize(ApiServer& server, std::shared_ptr<http::Exchange> ex);
void HandleDetokenize(ApiServer& server, std::shared_ptr<http::Exchange> ex);
void HandleAdminListModels(ApiServer& server, std::shared_ptr<http::Exchange> ex);
void HandleAdminModelAction(ApiServer& server, std::shared_ptr<http::Exchange> ex);

}  // namespace surge::server
