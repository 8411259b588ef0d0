#include "router/health_checker.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "nlohmann/json.hpp"
#include "server/http/asio.h"

namespace surge::router {

namespace http = server::http;

std::optional<std::vector<ModelEntry>> ParseModelList(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto data = j.find("data");
  if (data == j.end() || !data->is_array()) return std::nullopt;
  std::vector<ModelEntry> models;
  for (const auto& m : *data) {
    if (!m.is_object()) continue;
    auto id = m.find("id");
    if (id != m.end() && id->is_string())
      models.push_back({id->get<std::string>(),
                        m.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  }
  return models;
}

HealthChecker::HealthChecker(boost::asio::io_context& ioc, ReplicaSet& replicas,
                             const base::Clock& clock, HealthOptions options, HealthEvents events)
    : ioc_(ioc),
      client_(ioc),
      replicas_(replicas),
      clock_(clock),
      options_(std::move(options)),
      events_(std::move(events)) {}

void HealthChecker::Round() {
  const base::TimePoint now = clock_.Now();
  for (const std::shared_ptr<Replica>& r : replicas_.Snapshot()) {
    if (r->breaker_state(now) != BreakerState::kOpen) Check(r);
  }
}

void HealthChecker::CheckNow(std::shared_ptr<Replica> replica) {
  boost::asio::post(ioc_, [this, replica = std::move(replica)] { Check(replica); });
}

http::ClientRequest HealthChecker::NewRequest(const Replica& replica, std::string target) const {
  http::ClientRequest req;
  req.host = replica.address().host;
  req.port = replica.address().port;
  req.target = std::move(target);
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout);
  req.connect_timeout = timeout;
  req.read_timeout = timeout;
  return req;
}

void HealthChecker::Check(const std::shared_ptr<Replica>& replica) {
  if (!in_flight_.insert(replica->name()).second) return;
  auto status = std::make_shared<int>(0);
  client_.Request(NewRequest(*replica, "/health"),
                  {.on_status_headers = [status](int s, const http::Headers&) { *status = s; },
                   .on_done = [this, replica,
                               status](absl::Status done) { OnHealth(replica, *status, done); }});
}

void HealthChecker::OnHealth(const std::shared_ptr<Replica>& replica, int status,
                             const absl::Status& done) {
  if (done.ok() && status == 200) {
    int& since = checks_since_models_[replica->name()];
    const bool due = !replica->models_known() || since >= options_.models_every;
    ++since;
    if (due) return FetchModels(replica);
    in_flight_.erase(replica->name());
    return Passed(replica);
  }
  in_flight_.erase(replica->name());
  if (!done.ok()) {
    SURGE_LOG_DEBUG("route: health check of {} failed: {}", replica->name(),
                    std::string(done.message()));
  }
  Failed(replica, done.ok() && status == 503);
}

void HealthChecker::FetchModels(const std::shared_ptr<Replica>& replica) {
  http::ClientRequest req = NewRequest(*replica, "/v1/models");
  if (!options_.upstream_api_key.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + options_.upstream_api_key);
  }
  auto status = std::make_shared<int>(0);
  auto body = std::make_shared<std::string>();
  client_.Request(std::move(req),
                  {.on_status_headers = [status](int s, const http::Headers&) { *status = s; },
                   .on_body_chunk =
                       [body](std::string_view chunk) {
                         if (body->size() < (1 << 20)) body->append(chunk);
                       },
                   .on_done =
                       [this, replica, status, body](absl::Status done) {
                         in_flight_.erase(replica->name());
                         std::optional<std::vector<ModelEntry>> ids;
                         if (done.ok() && *status == 200) ids = ParseModelList(*body);
                         if (ids) {
                           checks_since_models_[replica->name()] = 0;
                           replica->SetModels(std::move(ids));
                         } else if (!replica->models_read()) {
                           SURGE_LOG_WARN(
                               "route: cannot read the models of {} (status {}); assuming it "
                               "serves every model",
                               replica->name(), *status);
                           replica->SetModels(std::nullopt);
                         }
                         Passed(replica);
                       }});
}

void HealthChecker::Passed(const std::shared_ptr<Replica>& replica) {
  if (replica->RecordSuccess(clock_.Now()) && events_.returned) events_.returned(replica);
}

void HealthChecker::Failed(const std::shared_ptr<Replica>& replica, bool draining) {
  const base::TimePoint now = clock_.Now();
  const bool ejected = draining ? replica->Eject(now) : replica->RecordFailure(now);
  if (ejected && events_.ejected) events_.ejected(replica);
}

}  // namespace surge::router
