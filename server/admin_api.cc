// The admin API (admin key only): GET /admin/models, POST
// /admin/models/{name}/load (body, optional: {"keep_alive": "10m"}) and
// POST /admin/models/{name}/unload.
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "server/api_server.h"
#include "server/openai/errors.h"
#include "server/openai/json_util.h"
#include "server/openai/keep_alive.h"

namespace surge::server {
namespace {

using openai::Json;

Json StatusJson(const ModelStatus& m) {
  Json j = Json::object();
  j["name"] = m.name;
  j["file"] = m.path;
  j["state"] = ToString(m.state);
  j["memory_bytes"] = m.bytes;
  j["in_flight"] = m.in_flight;
  j["waiting"] = m.waiting;
  j["keep_alive"] = openai::KeepAliveString(m.keep_alive);
  j["idle_seconds"] = m.idle_seconds ? Json(*m.idle_seconds) : Json(nullptr);
  j["unload_in_seconds"] = m.unload_in_seconds ? Json(*m.unload_in_seconds) : Json(nullptr);
  j["max_context"] = m.max_context;
  j["loads"] = m.num_loads;
  j["last_error"] = m.last_error.empty() ? Json(nullptr) : Json(m.last_error);
  return j;
}

std::optional<ModelStatus> StatusOf(ApiServer& server, const std::string& name) {
  for (ModelStatus& m : server.registry().List()) {
    if (m.name == name) return std::move(m);
  }
  return std::nullopt;
}

void Load(ApiServer& server, std::shared_ptr<http::Exchange> ex, const std::string& name) {
  std::optional<std::chrono::milliseconds> keep_alive;
  const std::string& body = ex->request().body;
  if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
    absl::StatusOr<openai::JsonIn> json = openai::ParseJsonObject(body);
    if (!json.ok()) return server.RespondError(*ex, json.status());
    if (auto it = json->find("keep_alive"); it != json->end() && !it->is_null()) {
      absl::StatusOr<std::chrono::milliseconds> k = openai::ParseKeepAliveJson(*it, "keep_alive");
      if (!k.ok()) return server.RespondError(*ex, k.status());
      keep_alive = *k;
    }
  }
  server.WithModel(ex, name, keep_alive, [&server, ex, name](std::shared_ptr<ModelLease> lease) {
    lease.reset();  // loaded; its keep_alive runs from now
    std::optional<ModelStatus> status = StatusOf(server, name);
    ex->Respond(200, "application/json", openai::DumpJson(StatusJson(*status)));
  });
}

void Unload(ApiServer& server, const std::shared_ptr<http::Exchange>& ex, const std::string& name) {
  absl::StatusOr<ModelState> state = server.registry().Unload(name);
  if (!state.ok()) return server.RespondError(*ex, state.status());
  Json j = Json::object();
  j["name"] = name;
  j["state"] = ToString(*state);
  // 200 when it is gone already, 202 while it drains (poll GET /admin/models).
  ex->Respond(*state == ModelState::kUnloaded ? 200 : 202, "application/json", openai::DumpJson(j));
}

}  // namespace

void HandleAdminListModels(ApiServer& server, std::shared_ptr<http::Exchange> ex) {
  Json j = Json::object();
  j["memory_budget_bytes"] = server.registry().memory_budget_bytes();
  j["memory_used_bytes"] = server.registry().memory_used_bytes();
  j["models"] = Json::array();
  for (const ModelStatus& m : server.registry().List()) j["models"].push_back(StatusJson(m));
  ex->Respond(200, "application/json", openai::DumpJson(j));
}

void HandleAdminModelAction(ApiServer& server, std::shared_ptr<http::Exchange> ex) {
  // /admin/models/{name}/{action}; the name may not contain '/'.
  constexpr std::string_view kPrefix = "/admin/models/";
  const std::string rest = ex->request().path.substr(kPrefix.size());
  const size_t slash = rest.rfind('/');
  const std::string name = slash == std::string::npos ? "" : rest.substr(0, slash);
  const std::string action = slash == std::string::npos ? rest : rest.substr(slash + 1);
  if (name.empty() || name.find('/') != std::string::npos ||
      (action != "load" && action != "unload")) {
    return server.RespondError(
        *ex, openai::WithErrorCode(
                 absl::NotFoundError(absl::StrCat("no admin action at ", ex->request().path,
                                                  "; use /admin/models/{name}/load or /unload")),
                 "not_found"));
  }
  if (!server.registry().Contains(name)) {
    return server.RespondError(
        *ex, openai::WithErrorCode(
                 absl::NotFoundError(absl::StrCat("the model '", name, "' does not exist")),
                 "model_not_found"));
  }
  if (action == "load") return Load(server, std::move(ex), name);
  Unload(server, ex, name);
}

}  // namespace surge::server
