#include "server/api_server.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/openai/errors.h"
#include "server/openai/format.h"

namespace surge::server {

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Create(ModelRegistry& registry,
                                                             ApiOptions options) {
  std::unique_ptr<ApiServer> s(new ApiServer(registry, std::move(options)));
  TenantOptions t;
  t.keys_file = s->options_.keys_file;
  t.api_keys = s->options_.api_keys;
  absl::StatusOr<std::unique_ptr<TenantDirectory>> tenants = TenantDirectory::Create(t);
  if (!tenants.ok()) return tenants.status();
  s->tenants_ = *std::move(tenants);
  s->response_cache_ = std::make_unique<ResponseCache>(s->options_.response_cache_bytes);
  s->metrics_ = std::make_unique<ServerMetrics>(registry, *s->response_cache_);
  s->http_ = std::make_unique<http::HttpServer>(s->options_.http);
  s->Routes();
  return s;
}

ApiServer::ApiServer(ModelRegistry& registry, ApiOptions options)
    : registry_(registry), options_(std::move(options)), created_(std::time(nullptr)) {}

ApiServer::~ApiServer() { Stop(); }

absl::Status ApiServer::Start() { return http_->Start(); }

void ApiServer::BeginDrain() {
  draining_ = true;
  http_->StopAccepting();
}

void ApiServer::Stop() {
  if (http_) http_->Stop();
}

std::string ApiServer::NextId(const char* prefix) {
  return absl::StrCat(prefix, "-", created_, "-", next_id_.fetch_add(1));
}

void ApiServer::RespondError(http::Exchange& ex, const absl::Status& status) {
  openai::ApiError e = openai::ApiErrorFromStatus(status);
  metrics_->RecordHttpError(e.http_status);
  http::Headers headers;
  if (e.retry_after_seconds)
    headers.emplace_back("Retry-After", std::to_string(*e.retry_after_seconds));
  ex.Respond(e.http_status, "application/json", openai::ErrorBody(e), std::move(headers));
}

void ApiServer::WithModel(std::shared_ptr<http::Exchange> ex, const std::string& model,
                          std::optional<std::chrono::milliseconds> keep_alive,
                          std::function<void(std::shared_ptr<ModelLease>)> then) {
  registry_.Acquire(model, [this, ex, keep_alive, then = std::move(then)](
                               absl::StatusOr<std::shared_ptr<ModelLease>> lease) mutable {
    if (lease.ok()) (*lease)->set_keep_alive(keep_alive);
    ex->Post([this, ex, then = std::move(then), lease = std::move(lease)]() mutable {
      if (!lease.ok()) return RespondError(*ex, lease.status());
      if (ex->closed()) return;
      then(*std::move(lease));  // `then` owns the lease: dropping it ends it
    });
  });
}

http::Handler ApiServer::Guard(TenantHandler h) {
  return [this, h = std::move(h)](std::shared_ptr<http::Exchange> ex) {
    std::optional<std::string> auth = ex->request().Header("authorization");
    std::shared_ptr<Tenant> tenant = tenants_->Authenticate(auth);
    if (tenant == nullptr) {
      RespondError(
          *ex, absl::UnauthenticatedError(
                   auth ? "invalid API key" : "missing API key: send 'Authorization: Bearer KEY'"));
      return;
    }
    h(std::move(ex), std::move(tenant));
  };
}

http::Handler ApiServer::AdminGuard(http::Handler h) {
  return [this, h = std::move(h)](std::shared_ptr<http::Exchange> ex) {
    if (options_.admin_key.empty()) {
      RespondError(*ex, absl::PermissionDeniedError(
                            "the admin API is off; start surge serve with --admin-key"));
      return;
    }
    std::optional<std::string> auth = ex->request().Header("authorization");
    if (!auth || *auth != "Bearer " + options_.admin_key) {
      RespondError(*ex, absl::UnauthenticatedError(
                            auth ? "invalid admin key"
                                 : "missing admin key: send 'Authorization: Bearer ADMIN_KEY'"));
      return;
    }
    h(std::move(ex));
  };
}

void ApiServer::Routes() {
  http_->Route("GET", "/health", [this](auto ex) { Health(std::move(ex)); });
  http_->Route("GET", "/metrics", [this](auto ex) {
    ex->Respond(200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Render());
  });
  http_->Route("GET", "/v1/models", Guard([this](auto ex, auto) { Models(std::move(ex)); }));
  http_->Route("POST", "/tokenize",
               Guard([this](auto ex, auto) { HandleTokenize(*this, std::move(ex)); }));
  http_->Route("POST", "/detokenize",
               Guard([this](auto ex, auto) { HandleDetokenize(*this, std::move(ex)); }));
  http_->Route("POST", "/v1/completions", Guard([this](auto ex, auto tenant) {
                 HandleCompletion(*this, std::move(ex), std::move(tenant));
               }));
  http_->Route("POST", "/v1/chat/completions", Guard([this](auto ex, auto tenant) {
                 HandleChat(*this, std::move(ex), std::move(tenant));
               }));
  http_->Route("GET", "/admin/models",
               AdminGuard([this](auto ex) { HandleAdminListModels(*this, std::move(ex)); }));
  http_->RoutePrefix("POST", "/admin/models/",
                     AdminGuard([this](auto ex) { HandleAdminModelAction(*this, std::move(ex)); }));
  ExtraRoutes();
}

void ApiServer::ExtraRoutes() {
  RouteGuards guards;
  guards.admin = [this](http::Handler h) { return AdminGuard(std::move(h)); };
  guards.user = [this](http::Handler h) -> http::Handler {
    http::Handler with_key = Guard([h](auto ex, auto) { h(std::move(ex)); });
    return [this, h, with_key](std::shared_ptr<http::Exchange> ex) {
      std::optional<std::string> auth = ex->request().Header("authorization");
      const bool admin = !options_.admin_key.empty() && auth == "Bearer " + options_.admin_key;
      admin ? h(std::move(ex)) : with_key(std::move(ex));
    };
  };
  for (const RouteHook& add : options_.extra_routes) add(*http_, guards);
}

void ApiServer::Health(std::shared_ptr<http::Exchange> ex) {
  if (draining_) {
    ex->Respond(503, "application/json", R"({"status":"draining"})");
  } else {
    ex->Respond(200, "application/json", R"({"status":"ok"})");
  }
}

void ApiServer::Models(std::shared_ptr<http::Exchange> ex) {
  std::vector<openai::ModelCard> cards;
  for (const ModelStatus& m : registry_.List()) {
    openai::ModelCard card;
    card.id = m.name;
    card.created = created_;
    card.max_model_len = m.max_context;
    card.state = ToString(m.state);
    cards.push_back(std::move(card));
  }
  ex->Respond(200, "application/json", openai::FormatModelList(cards));
}

}  // namespace surge::server
