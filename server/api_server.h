// ApiServer answers the OpenAI-compatible HTTP API for one Engine:
// /v1/completions, /v1/chat/completions (JSON or SSE), /v1/models, /health,
// /metrics, /tokenize, /detokenize.
//
// The I/O threads parse, validate and tokenize (never the engine loop), then
// submit to the engine and relay its token stream; a client that goes away
// cancels its request at the engine's next step. Draining (BeginDrain) turns
// /health to 503, closes the listener and lets in-flight requests finish.
//
// Ownership: borrows the Engine (must outlive the server); owns the HTTP
// server and the metrics.
// Thread safety: Start/BeginDrain/Stop from one controlling thread; handlers
// run on the I/O threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "engine/model/chat_template.h"
#include "server/http/server.h"
#include "server/openai/protocol.h"
#include "server/server_metrics.h"

namespace surge::server {

struct ApiOptions {
  http::ServerOptions http;
  std::vector<std::string> api_keys;  // empty: no authentication
  openai::ParseLimits limits;
  std::string model_name;     // the id clients use; default: the model's name
  std::string chat_template;  // override by family name; "": detect from the GGUF
  std::optional<std::chrono::milliseconds> queue_timeout;  // per-request queue deadline
};

class ApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<ApiServer>> Create(engine::Engine& engine,
                                                           ApiOptions options);
  ~ApiServer();

  absl::Status Start();
  uint16_t port() const { return http_->port(); }
  // Stop taking new work: /health answers 503, the listener closes.
  void BeginDrain();
  // True once no request is in flight.
  bool idle() const { return in_flight_.load() == 0; }
  void Stop();

  // Used by the handlers (generation.cc).
  engine::Engine& engine() { return engine_; }
  const ApiOptions& options() const { return options_; }
  ServerMetrics& metrics() { return *metrics_; }
  engine::model::ChatTemplateKind chat_template() const { return chat_template_; }
  std::atomic<int64_t>& in_flight() { return in_flight_; }
  std::string NextId(const char* prefix);
  // Writes an OpenAI-shaped error response and counts it.
  void RespondError(http::Exchange& ex, const absl::Status& status);

 private:
  ApiServer(engine::Engine& engine, ApiOptions options);
  void Routes();
  // Wraps a handler with authentication and the access log.
  http::Handler Guard(http::Handler h);
  void Health(std::shared_ptr<http::Exchange> ex);
  void Models(std::shared_ptr<http::Exchange> ex);
  void Tokenize(std::shared_ptr<http::Exchange> ex);
  void Detokenize(std::shared_ptr<http::Exchange> ex);

  engine::Engine& engine_;
  ApiOptions options_;
  engine::model::ChatTemplateKind chat_template_ = engine::model::ChatTemplateKind::kChatML;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
  int64_t created_ = 0;
};

// Handlers for /v1/completions and /v1/chat/completions (generation.cc).
void HandleCompletion(ApiServer& server, std::shared_ptr<http::Exchange> ex);
void HandleChat(ApiServer& server, std::shared_ptr<http::Exchange> ex);

}  // namespace surge::server
