#include "jobs/job_client.h"

#include <charconv>
#include <exception>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/http/asio.h"
#include "server/http/client.h"
#include "server/http/sse.h"

namespace surge::jobs {
namespace {

namespace http = server::http;

constexpr int kMaxSilentReconnects = 5;

absl::Status FromHttp(int status, const std::string& body) {
  std::string message = absl::StrCat("HTTP ", status);
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("message") && j["error"]["message"].is_string()) {
    message = j["error"]["message"].get<std::string>();
  }
  switch (status) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::FailedPreconditionError(message);
    case 503:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<JobInfo> InfoFrom(const Json& j) {
  absl::StatusOr<JobInfo> info = JobInfoFromJson(j);
  if (!info.ok())
    return absl::InternalError(absl::StrCat("unexpected answer: ", info.status().message()));
  return info;
}

}  // namespace

absl::Status ParseHttpUrl(const std::string& url, std::string* host, uint16_t* port) {
  constexpr absl::string_view kScheme = "http://";
  if (!absl::StartsWith(url, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("URL '", url, "' must start with http://"));
  }
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("URL '", url, "' must be http://host:port"));
  }
  *port = 80;
  size_t colon = rest.rfind(':');
  if (rest.front() == '[') {  // [v6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) return absl::InvalidArgumentError("bad IPv6 address in URL");
    colon = close + 1 < rest.size() && rest[close + 1] == ':' ? close + 1 : std::string::npos;
    *host = rest.substr(1, close - 1);
  } else {
    *host = rest.substr(0, colon);
  }
  if (colon != std::string::npos) {
    const std::string p = rest.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in URL '", url, "'"));
    }
    *port = static_cast<uint16_t>(value);
  }
  if (host->empty()) return absl::InvalidArgumentError(absl::StrCat("no host in URL '", url, "'"));
  return absl::OkStatus();
}

absl::StatusOr<JobClient> JobClient::Create(JobClientOptions options) {
  std::string host;
  uint16_t port = 0;
  SURGE_RETURN_IF_ERROR(ParseHttpUrl(options.url, &host, &port));
  return JobClient(std::move(options), std::move(host), port);
}

absl::StatusOr<Json> JobClient::Call(const std::string& method, const std::string& target,
                                     const std::string& body) const {
  http::ClientRequest r;
  r.method = method;
  r.host = host_;
  r.port = port_;
  r.target = target;
  r.body = body;
  r.read_timeout = options_.timeout;
  if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  if (!options_.api_key.empty())
    r.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
  SURGE_ASSIGN_OR_RETURN(http::ClientResponse response, http::Fetch(std::move(r)));
  if (response.status != 200) return FromHttp(response.status, response.body);
  Json j = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InternalError("the server's answer is not JSON");
  return j;
}

absl::StatusOr<JobInfo> JobClient::Submit(const JobSpec& spec) const {
  SURGE_ASSIGN_OR_RETURN(Json j, Call("POST", "/v1/jobs", DumpJson(ToJson(spec))));
  return InfoFrom(j);
}

absl::StatusOr<std::vector<JobInfo>> JobClient::List() const {
  SURGE_ASSIGN_OR_RETURN(Json j, Call("GET", "/v1/jobs", ""));
  if (!j.contains("data") || !j["data"].is_array()) return absl::InternalError("no job list");
  std::vector<JobInfo> out;
  for (const Json& item : j["data"]) {
    SURGE_ASSIGN_OR_RETURN(JobInfo info, InfoFrom(item));
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<JobInfo> JobClient::Get(const std::string& id) const {
  SURGE_ASSIGN_OR_RETURN(Json j, Call("GET", "/v1/jobs/" + id, ""));
  return InfoFrom(j);
}

absl::StatusOr<JobInfo> JobClient::Cancel(const std::string& id) const {
  SURGE_ASSIGN_OR_RETURN(Json j, Call("POST", "/v1/jobs/" + id + "/cancel", ""));
  return InfoFrom(j);
}

absl::Status JobClient::WatchOnce(const std::string& id,
                                  const std::function<void(const JobEvent&)>& fn, JobInfo* last,
                                  bool* got_events) const {
  boost::asio::io_context ioc;
  http::HttpClient client(ioc);
  http::ClientRequest r;
  r.host = host_;
  r.port = port_;
  r.target = "/v1/jobs/" + id + "/events";
  r.read_timeout = options_.watch_timeout;
  if (!options_.api_key.empty())
    r.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
  int status = 0;
  std::string error_body;
  http::SseParser parser;
  bool terminal = false;
  absl::Status result = absl::UnknownError("the events request did not finish");
  absl::Status parse_error;
  auto on_chunk = [&](std::string_view chunk) {
    if (status != 200) {
      error_body.append(chunk);
      return;
    }
    std::vector<http::SseEvent> events;
    if (absl::Status s = parser.Feed(chunk, &events); !s.ok()) parse_error = s;
    for (const http::SseEvent& e : events) {
      Json j = Json::parse(e.data, nullptr, /*allow_exceptions=*/false);
      absl::StatusOr<JobInfo> info = JobInfoFromJson(j);
      if (!info.ok()) {
        parse_error = absl::InternalError(absl::StrCat("bad event: ", info.status().message()));
        continue;
      }
      JobEvent event{e.event == "progress" ? JobEvent::Type::kProgress : JobEvent::Type::kState, 0,
                     *std::move(info)};
      std::from_chars(e.id.data(), e.id.data() + e.id.size(), event.seq);
      *last = event.info;
      *got_events = true;
      if (fn) fn(event);
      if (event.terminal()) terminal = true;
    }
  };
  client.Request(std::move(r),
                 {.on_status_headers = [&](int s, const http::Headers&) { status = s; },
                  .on_body_chunk = on_chunk,
                  .on_done = [&](absl::Status s) { result = std::move(s); }});
  try {
    ioc.run();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HTTP client: ", e.what()));
  }
  if (status != 0 && status != 200) return FromHttp(status, error_body);
  if (!parse_error.ok()) return parse_error;
  if (terminal) return absl::OkStatus();
  return result.ok() ? absl::UnavailableError("the events stream ended early") : result;
}

absl::StatusOr<JobInfo> JobClient::Watch(
    const std::string& id, const std::function<void(const JobEvent&)>& on_event) const {
  JobInfo last;
  int silent = 0;
  while (true) {
    bool got_events = false;
    absl::Status s = WatchOnce(id, on_event, &last, &got_events);
    if (s.ok()) return last;
    const bool transport = s.code() == absl::StatusCode::kUnavailable ||
                           s.code() == absl::StatusCode::kDeadlineExceeded;
    if (!transport) return s;
    silent = got_events ? 0 : silent + 1;
    if (silent > kMaxSilentReconnects) return s;
    if (!got_events) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace surge::jobs
