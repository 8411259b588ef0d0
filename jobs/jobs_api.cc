#include "jobs/jobs_api.h"

#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "server/http/request.h"

namespace surge::jobs {
namespace {

namespace http = server::http;

constexpr std::string_view kPrefix = "/v1/jobs/";

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

void RespondError(http::Exchange& ex, const absl::Status& s) {
  const int status = HttpStatus(s.code());
  const char* code = status == 400   ? "invalid_job"
                     : status == 404 ? "job_not_found"
                     : status == 409 ? "job_finished"
                     : status == 503 ? "unavailable"
                                     : "internal_error";
  ex.Respond(status, "application/json",
             http::ErrorJson(std::string(s.message()), code,
                             status >= 500 ? "server_error" : "invalid_request_error"));
}

void RespondJson(http::Exchange& ex, const Json& j) {
  ex.Respond(200, "application/json", DumpJson(j));
}

void Submit(JobManager& m, const std::shared_ptr<http::Exchange>& ex) {
  Json body = Json::parse(ex->request().body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return RespondError(*ex, absl::InvalidArgumentError("the body is not valid JSON"));
  }
  absl::StatusOr<JobSpec> spec = JobSpecFromJson(body);
  if (!spec.ok()) return RespondError(*ex, spec.status());
  absl::StatusOr<JobInfo> info = m.Submit(*std::move(spec));
  if (!info.ok()) return RespondError(*ex, info.status());
  RespondJson(*ex, ToJson(*info));
}

void List(JobManager& m, const std::shared_ptr<http::Exchange>& ex) {
  Json j = Json::object();
  j["object"] = "list";
  j["data"] = Json::array();
  for (const JobInfo& info : m.List()) j["data"].push_back(ToJson(info));
  RespondJson(*ex, j);
}

// Relays one subscription to one SSE response, on the connection's strand.
// The stream's notifier holds the relay (and so the stream) until Close()
// clears it: at the terminal event, or when the client leaves.
struct SseRelay {
  std::shared_ptr<http::Exchange> ex;
  std::shared_ptr<JobEventStream> stream;
  bool closed = false;  // strand only

  void Drain() {
    if (closed) return;
    while (std::optional<JobEvent> e = stream->TryNext()) {
      ex->Write(FormatSse(*e));
      if (e->terminal()) {
        ex->End();
        return Close();
      }
    }
  }
  void Close() {
    closed = true;
    stream->SetNotifier(nullptr);
  }
};

void Events(JobManager& m, const std::shared_ptr<http::Exchange>& ex, const std::string& id) {
  absl::StatusOr<std::shared_ptr<JobEventStream>> stream = m.Subscribe(id);
  if (!stream.ok()) return RespondError(*ex, stream.status());
  ex->StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
  auto relay = std::make_shared<SseRelay>(SseRelay{ex, *stream});
  (*stream)->SetNotifier([relay] { relay->ex->Post([relay] { relay->Drain(); }); });
  ex->OnClose([relay] { relay->Close(); });
  ex->Post([relay] { relay->Drain(); });  // the replay is already waiting
}

// /v1/jobs/{id} and /v1/jobs/{id}/{action}.
void SplitPath(const std::string& path, std::string* id, std::string* action) {
  const std::string rest = path.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  *id = rest.substr(0, slash);
  *action = slash == std::string::npos ? "" : rest.substr(slash + 1);
}

void NotFound(http::Exchange& ex) {
  RespondError(ex,
               absl::NotFoundError(absl::StrCat(
                   "no job API at ", ex.request().path,
                   "; use /v1/jobs, /v1/jobs/{id}, /v1/jobs/{id}/events, /v1/jobs/{id}/cancel")));
}

}  // namespace

void RegisterJobRoutes(http::HttpServer& server, JobManager& manager,
                       const JobRouteGuards& guards) {
  auto read = [&guards](http::Handler h) { return guards.read ? guards.read(std::move(h)) : h; };
  auto write = [&guards](http::Handler h) { return guards.write ? guards.write(std::move(h)) : h; };
  JobManager* m = &manager;
  server.Route("POST", "/v1/jobs", write([m](auto ex) { Submit(*m, ex); }));
  server.Route("GET", "/v1/jobs", read([m](auto ex) { List(*m, ex); }));
  server.RoutePrefix("GET", std::string(kPrefix), read([m](auto ex) {
                       std::string id, action;
                       SplitPath(ex->request().path, &id, &action);
                       if (id.empty()) return NotFound(*ex);
                       if (action == "events") return Events(*m, ex, id);
                       if (!action.empty()) return NotFound(*ex);
                       absl::StatusOr<JobInfo> info = m->Get(id);
                       if (!info.ok()) return RespondError(*ex, info.status());
                       RespondJson(*ex, ToJson(*info));
                     }));
  server.RoutePrefix("POST", std::string(kPrefix), write([m](auto ex) {
                       std::string id, action;
                       SplitPath(ex->request().path, &id, &action);
                       if (id.empty() || action != "cancel") return NotFound(*ex);
                       absl::StatusOr<JobInfo> info = m->Cancel(id);
                       if (!info.ok()) return RespondError(*ex, info.status());
                       RespondJson(*ex, ToJson(*info));
                     }));
}

}  // namespace surge::jobs
