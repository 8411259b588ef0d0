#include "router/router.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "nlohmann/json.hpp"
#include "router/admission.h"
#include "server/http/asio.h"

namespace surge::router {

namespace http = server::http;

absl::StatusOr<std::unique_ptr<Router>> Router::Create(RouterOptions options,
                                                       const base::Clock& clock) {
  absl::StatusOr<std::unique_ptr<Policy>> policy =
      MakePolicy(options.policy, options.prefix_policy);
  if (!policy.ok()) return policy.status();
  if (options.proxy.max_attempts < 1) {
    return absl::InvalidArgumentError("--max-attempts must be at least 1");
  }
  return std::unique_ptr<Router>(new Router(std::move(options), clock, *std::move(policy)));
}

Router::Router(RouterOptions options, const base::Clock& clock, std::unique_ptr<Policy> policy)
    : background_(std::make_unique<boost::asio::io_context>()),
      http_(std::make_unique<http::HttpServer>(options.http)) {
  ctx_ = std::make_shared<RouterContext>(std::move(options), clock, std::move(policy),
                                         http_->io_context());
  const RouterOptions& o = ctx_->options();
  RouterContext* ctx = ctx_.get();
  health_ = std::make_unique<HealthChecker>(
      *background_, ctx_->replicas(), clock, o.health,
      HealthEvents{.ejected = [ctx](const auto& r) { ctx->OnEjected(r); },
                   .returned = [ctx](const auto& r) { ctx->OnReturned(r); }});
  discovery_ = std::make_unique<Discovery>(*background_, ctx_->replicas(), o.discovery);
  base::MetricsRegistry& registry = ctx_->metrics().registry();
  registry.AddCallbackGauge("surge:router_in_flight", "Client requests in flight.",
                            [ctx] { return static_cast<double>(ctx->in_flight().load()); });
  registry.AddCallbackGauge("surge:router_queue_depth", "Requests waiting for a slot.",
                            [ctx] { return static_cast<double>(ctx->limiter().queue_depth()); });
  Routes();
}

Router::~Router() { Stop(); }

absl::Status Router::Start() {
  if (started_) return absl::FailedPreconditionError("Router already started");
  RouterContext* ctx = ctx_.get();
  HealthChecker* health = health_.get();
  ctx_->replicas().OnChange([ctx, health](const auto& added, const auto& removed) {
    for (const auto& r : added) {
      SURGE_LOG_INFO("route: replica {} added", r->name());
      health->CheckNow(r);
    }
    for (const auto& r : removed) {
      SURGE_LOG_INFO("route: replica {} removed", r->name());
      ctx->policy().Forget(r->name());
      ctx->metrics().ReplicaRemoved(r->name());
    }
  });
  if (absl::Status s = discovery_->Start(); !s.ok()) return s;
  if (absl::Status s = http_->Start(); !s.ok()) return s;
  started_ = true;
  health_task_ = std::make_unique<PeriodicTask>(*background_, ctx_->options().health.interval,
                                                [health] { health->Round(); });
  health_task_->Start();
  if (ctx_->options().concurrency.max_in_flight > 0) {
    queue_task_ =
        std::make_unique<PeriodicTask>(*background_, std::chrono::milliseconds(20),
                                       [ctx] { ctx->limiter().ExpireWaiters(ctx->clock().Now()); });
    queue_task_->Start();
  }
  background_thread_ = std::jthread([io = background_.get()] {
    auto guard = boost::asio::make_work_guard(*io);
    io->run();
  });
  SURGE_LOG_INFO("route: {} policy over {} replicas on port {}", ctx_->policy().name(),
                 ctx_->replicas().size(), http_->port());
  return absl::OkStatus();
}

void Router::BeginDrain() {
  draining_ = true;
  http_->StopAccepting();
}

void Router::Stop() {
  if (stopped_) return;
  stopped_ = true;
  background_->stop();
  if (background_thread_.joinable()) background_thread_.join();
  http_->Stop();
  // Waiters still queued hold the context; their answers can no longer be
  // sent, so drop them.
  ctx_->limiter().ExpireWaiters(base::TimePoint::max());
}

http::Handler Router::Guard(http::Handler h) {
  return [this, h = std::move(h)](std::shared_ptr<http::Exchange> ex) {
    const std::vector<std::string>& keys = ctx_->options().api_keys;
    if (!keys.empty()) {
      std::optional<std::string> auth = ex->request().Header("authorization");
      bool ok = false;
      for (const std::string& key : keys) ok = ok || (auth && *auth == "Bearer " + key);
      if (!ok) {
        return RespondRouterError(
            *ctx_, *ex, "auth", 401,
            auth ? "invalid API key" : "missing API key: send 'Authorization: Bearer KEY'",
            "invalid_api_key");
      }
    }
    h(std::move(ex));
  };
}

void Router::Routes() {
  http_->Route("GET", "/health", [this](auto ex) { Health(*ex); });
  http_->Route("GET", "/metrics", [this](auto ex) { Metrics(*ex); });
  http_->Route("GET", "/v1/models", Guard([this](auto ex) { Models(*ex); }));
  http_->Route("POST", "/v1/chat/completions",
               Guard([this](auto ex) { Proxy(std::move(ex), "chat", true); }));
  http_->Route("POST", "/v1/completions",
               Guard([this](auto ex) { Proxy(std::move(ex), "completions", true); }));
  http_->SetFallback(Guard([this](auto ex) { Proxy(std::move(ex), "other", false); }));
}

void Router::Health(http::Exchange& ex) {
  const base::TimePoint now = ctx_->clock().Now();
  nlohmann::json replicas = nlohmann::json::array();
  int routable = 0;
  for (const auto& r : ctx_->replicas().Snapshot()) {
    const bool up = r->routable(now);
    routable += up ? 1 : 0;
    replicas.push_back({{"name", r->name()},
                        {"state", BreakerStateName(r->breaker_state(now))},
                        {"in_rotation", up},
                        {"outstanding", r->outstanding()}});
  }
  const char* status = draining_ ? "draining" : routable > 0 ? "ok" : "no_replicas";
  nlohmann::json body = {{"status", status}, {"replicas", replicas}};
  ex.Respond(draining_ || routable == 0 ? 503 : 200, "application/json",
             body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Router::Metrics(http::Exchange& ex) {
  ctx_->metrics().UpdateReplicas(ctx_->replicas().Snapshot(), ctx_->clock().Now());
  ex.Respond(200, "text/plain; version=0.0.4; charset=utf-8", ctx_->metrics().Render());
}

void Router::Models(http::Exchange& ex) {
  const base::TimePoint now = ctx_->clock().Now();
  std::vector<std::string> seen;
  std::string data;
  for (const auto& r : ctx_->replicas().Snapshot()) {
    if (!r->routable(now)) continue;
    for (const ModelEntry& m : r->models()) {
      if (std::find(seen.begin(), seen.end(), m.id) != seen.end()) continue;
      seen.push_back(m.id);
      absl::StrAppend(&data, data.empty() ? "" : ",", m.json);
    }
  }
  ex.Respond(200, "application/json", absl::StrCat(R"({"object":"list","data":[)", data, "]}"));
}

void Router::Proxy(std::shared_ptr<http::Exchange> ex, std::string endpoint, bool generation) {
  const http::Request& in = ex->request();
  const std::optional<std::string> auth = in.Header("authorization");
  const std::string& upstream_key = ctx_->options().proxy.upstream_api_key;
  ProxyRequest req;
  req.endpoint = std::move(endpoint);
  req.authorization = upstream_key.empty() ? auth.value_or("") : "Bearer " + upstream_key;
  if (in.method == "POST" && !in.body.empty()) {
    absl::StatusOr<RequestInfo> info =
        ParseRequestInfo(in.body, req.authorization, ctx_->options().prefix);
    if (info.ok()) {
      req.info = *std::move(info);
    } else if (generation) {
      return RespondRouterError(*ctx_, *ex, req.endpoint, 400, std::string(info.status().message()),
                                "invalid_json");
    }
  }
  std::string rate_key = auth.value_or(in.remote.substr(0, in.remote.rfind(':')));
  AdmitAndProxy(ctx_, std::move(ex), std::move(req), rate_key);
}

}  // namespace surge::router
