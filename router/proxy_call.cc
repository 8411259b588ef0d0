#include "router/proxy_call.h"

#include <algorithm>
#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "router/text.h"

namespace surge::router {
namespace {

namespace http = server::http;

// Fields that describe one hop, not the message; never forwarded.
bool IsHopByHop(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kHop = {"connection",
                                                            "keep-alive",
                                                            "proxy-connection",
                                                            "proxy-authenticate",
                                                            "proxy-authorization",
                                                            "te",
                                                            "trailer",
                                                            "transfer-encoding",
                                                            "upgrade",
                                                            "host",
                                                            "content-length",
                                                            "expect"};
  return std::any_of(kHop.begin(), kHop.end(),
                     [&](std::string_view h) { return EqualsNoCase(h, name); });
}

// Seconds from a Retry-After field (the HTTP-date form counts as 1 s).
base::Duration RetryAfter(const http::Headers& headers, base::Duration cap) {
  std::optional<std::string> v = http::FindHeader(headers, "retry-after");
  if (!v) return base::Duration::zero();
  uint32_t s = 0;
  if (!ParseUint(StripWhitespace(*v), &s)) s = 1;
  return std::min<base::Duration>(std::chrono::seconds(s), cap);
}

std::string_view OutcomeOf(int status) {
  if (status == 429) return "429";
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  return "2xx";
}

std::string RemoteIp(const std::string& remote) {
  const size_t colon = remote.rfind(':');
  std::string ip = colon == std::string::npos ? remote : remote.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  return ip;
}

}  // namespace

void ProxyCall::Start(std::shared_ptr<RouterContext> ctx, std::shared_ptr<http::Exchange> exchange,
                      ProxyRequest request) {
  auto call = std::make_shared<ProxyCall>(std::move(ctx), exchange, std::move(request));
  exchange->Post([call] { call->Begin(); });
}

ProxyCall::ProxyCall(std::shared_ptr<RouterContext> ctx, std::shared_ptr<http::Exchange> exchange,
                     ProxyRequest request)
    : ctx_(std::move(ctx)),
      ex_(std::move(exchange)),
      req_(std::move(request)),
      id_(ctx_->NextId()),
      start_(ctx_->clock().Now()) {
  ctx_->in_flight().fetch_add(1);
}

void ProxyCall::Begin() {
  std::weak_ptr<ProxyCall> weak = weak_from_this();
  ex_->OnClose([weak] {
    if (auto self = weak.lock()) self->ClientGone();
  });
  ctx_->retry_budget().RecordRequest();
  Attempt();
}

void ProxyCall::Attempt() {
  if (done_) return;
  std::vector<std::shared_ptr<Replica>> eligible = ctx_->Eligible(req_.info.model, tried_);
  if (eligible.empty()) {
    if (!tried_.empty())
      return RespondError(502, "no replica could answer", "upstream_unavailable");
    if (!ctx_->AnyReplicaServes(req_.info.model)) {
      return RespondError(404, absl::StrCat("the model '", req_.info.model, "' does not exist"),
                          "model_not_found");
    }
    ctx_->metrics().RecordRejection("no_replica");
    return RespondError(503, "no replica is available; try again shortly", "no_healthy_replica", 1);
  }
  std::vector<Candidate> candidates;
  candidates.reserve(eligible.size());
  for (const auto& r : eligible) candidates.push_back({r->name(), r->outstanding()});
  Policy& policy = ctx_->policy();
  const RouteDecision d = policy.Pick(req_.info.prefix_hashes, candidates);
  replica_ = eligible[std::min(d.index, eligible.size() - 1)];
  ctx_->metrics().RecordDecision(policy.name(), d.reason);
  policy.OnRouted(req_.info.prefix_hashes, replica_->name());
  tried_.push_back(replica_->name());
  up_status_ = 0;
  up_headers_.clear();
  up_body_.clear();
  sse_ = false;
  framer_ = SseFramer();
  replica_->BeginRequest();
  attempt_start_ = ctx_->clock().Now();

  auto self = shared_from_this();
  std::shared_ptr<Replica> replica = replica_;
  call_ = ctx_->client().Request(
      UpstreamRequest(),
      {.on_status_headers =
           [self](int status, const http::Headers& headers) {
             self->ex_->Post([self, status, headers] { self->OnHeaders(status, headers); });
           },
       .on_body_chunk =
           [self](std::string_view chunk) {
             self->ex_->Post(
                 [self, bytes = std::string(chunk)]() mutable { self->OnChunk(std::move(bytes)); });
           },
       .on_done =
           [self, replica](absl::Status status) {
             self->ex_->Post([self, replica, status] { self->OnDone(replica, status); });
           }});
}

http::ClientRequest ProxyCall::UpstreamRequest() const {
  const http::Request& in = ex_->request();
  const ProxyOptions& o = ctx_->options().proxy;
  http::ClientRequest out;
  out.method = in.method;
  out.host = replica_->address().host;
  out.port = replica_->address().port;
  out.target = in.target;
  out.body = in.body;
  out.connect_timeout = o.connect_timeout;
  out.read_timeout = o.upstream_timeout;
  for (const auto& [name, value] : in.headers) {
    if (IsHopByHop(name) || EqualsNoCase(name, "authorization")) continue;
    out.headers.emplace_back(name, value);
  }
  if (!req_.authorization.empty()) out.headers.emplace_back("Authorization", req_.authorization);
  out.headers.emplace_back("X-Forwarded-For", RemoteIp(in.remote));
  return out;
}

void ProxyCall::OnHeaders(int status, http::Headers headers) {
  if (done_) return;
  up_status_ = status;
  up_headers_ = std::move(headers);
  const std::string type = http::FindHeader(up_headers_, "content-type").value_or("");
  sse_ = status / 100 == 2 && StartsWithNoCase(type, "text/event-stream");
}

void ProxyCall::OnChunk(std::string bytes) {
  if (done_) return;
  if (!sse_) {
    up_body_ += bytes;
    if (up_body_.size() > ctx_->options().proxy.max_response_bytes) {
      call_->Cancel();  // OnDone (Cancelled) follows
      up_status_ = -1;  // marks "too large" for OnDone
    }
    return;
  }
  std::string events = framer_.Feed(bytes);
  if (events.empty()) return;
  if (!committed_) Commit();
  ex_->Write(std::move(events));
  if (ex_->pending_write_bytes() > ctx_->options().proxy.max_pending_bytes) {
    SURGE_LOG_WARN("route: request {} cut off: the client stopped reading", id_);
    call_->Cancel();
    ex_->Respond(499, "application/json", "");  // aborts the stream
    Finish(499);
  }
}

void ProxyCall::Commit() {
  committed_ = true;
  first_byte_ = ctx_->clock().Now();
  ctx_->metrics().RecordTimeToFirstByte(base::ToSeconds(first_byte_ - start_));
  std::string type = "application/octet-stream";
  http::Headers headers;
  for (const auto& [name, value] : up_headers_) {
    if (EqualsNoCase(name, "content-type")) {
      type = value;
    } else if (!IsHopByHop(name) && !EqualsNoCase(name, "date") && !EqualsNoCase(name, "server")) {
      headers.emplace_back(name, value);
    }
  }
  headers.emplace_back("X-Surge-Replica", replica_->name());
  if (sse_) {
    ex_->StartStream(up_status_, std::move(type), std::move(headers));
  } else {
    ex_->Respond(up_status_, std::move(type), std::move(up_body_), std::move(headers));
  }
}

void ProxyCall::OnDone(const std::shared_ptr<Replica>& replica, const absl::Status& status) {
  replica->EndRequest();
  const double seconds = base::ToSeconds(ctx_->clock().Now() - attempt_start_);
  if (done_) {  // the client left or was cut off
    ctx_->metrics().RecordUpstream(replica->name(), "cancelled", seconds);
    return;
  }
  call_.reset();
  if (!status.ok() || up_status_ < 0) {
    std::string_view outcome = "connection_error";
    if (committed_) {
      outcome = "stream_cut";
    } else if (up_status_ < 0) {
      outcome = "too_large";
    } else if (absl::IsDeadlineExceeded(status)) {
      outcome = "timeout";
    }
    ctx_->metrics().RecordUpstream(replica->name(), outcome, seconds);
    return OnFailedAttempt(status);
  }
  ctx_->metrics().RecordUpstream(replica->name(), OutcomeOf(up_status_), seconds);
  if (sse_) {  // a stream that ended normally (perhaps before any event)
    ctx_->ReportSuccess(replica);
    if (!committed_) Commit();
    if (!framer_.pending().empty()) ex_->Write(framer_.pending());
    ex_->End();
    return Finish(up_status_);
  }
  if (up_status_ == 429 || up_status_ >= 500) {
    if (up_status_ == 429 || up_status_ == 503) {
      BenchReplica(replica);
    } else {
      ctx_->ReportFailure(replica);
    }
    if (Retry(up_status_ == 429 ? "429" : "5xx")) return Attempt();
  } else {
    ctx_->ReportSuccess(replica);
  }
  RespondUpstream();
}

void ProxyCall::OnFailedAttempt(const absl::Status& status) {
  if (up_status_ < 0) {
    return RespondError(502, "the replica's answer exceeds the router's response limit",
                        "upstream_response_too_large");
  }
  ctx_->ReportFailure(replica_);
  if (committed_) {
    return EndStreamWithError(
        absl::StrCat("the replica serving this stream failed: ", std::string(status.message())));
  }
  // A timeout after the request went out means a slow replica, not a dead
  // one: retrying would double the load for an answer that may never come.
  const bool connect_phase =
      !absl::IsDeadlineExceeded(status) || absl::StrContains(status.message(), "connect");
  if (connect_phase && Retry("connection")) return Attempt();
  if (absl::IsDeadlineExceeded(status)) {
    return RespondError(504, "the replica did not answer in time", "upstream_timeout");
  }
  RespondError(502, absl::StrCat("no replica could answer: ", std::string(status.message())),
               "upstream_unavailable");
}

bool ProxyCall::Retry(std::string_view reason) {
  if (static_cast<int>(tried_.size()) >= ctx_->options().proxy.max_attempts) return false;
  if (ctx_->Eligible(req_.info.model, tried_).empty()) return false;
  if (!ctx_->retry_budget().TryRetry()) {
    ctx_->metrics().RecordRetryDenied();
    return false;
  }
  ctx_->metrics().RecordRetry(reason);
  return true;
}

void ProxyCall::BenchReplica(const std::shared_ptr<Replica>& replica) {
  base::Duration wait = RetryAfter(up_headers_, ctx_->options().proxy.max_retry_after);
  if (wait == base::Duration::zero()) wait = std::chrono::seconds(1);
  replica->BackOffUntil(ctx_->clock().Now() + wait);
}

void ProxyCall::RespondUpstream() {
  Commit();
  Finish(up_status_);
}

void ProxyCall::RespondError(int status, std::string_view message, std::string_view code,
                             int retry_after_s) {
  http::Headers headers;
  if (retry_after_s > 0) headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  const char* type = status >= 500 ? "server_error" : "invalid_request_error";
  ex_->Respond(status, "application/json", http::ErrorJson(message, code, type),
               std::move(headers));
  Finish(status);
}

void ProxyCall::EndStreamWithError(std::string_view message) {
  SURGE_LOG_WARN("route: request {}: {}", id_, message);
  ex_->Write(absl::StrCat(
      "data: ", http::ErrorJson(message, "upstream_disconnected", "server_error"), "\n\n"));
  ex_->End();
  Finish(502);
}

void ProxyCall::ClientGone() {
  if (done_) return;
  if (call_) call_->Cancel();
  Finish(499);
}

void ProxyCall::Finish(int status) {
  if (done_) return;
  done_ = true;
  ctx_->limiter().Release();
  ctx_->in_flight().fetch_sub(1);
  ctx_->metrics().RecordRequest(req_.endpoint, status,
                                base::ToSeconds(ctx_->clock().Now() - start_));
  LogAccess(status);
}

void ProxyCall::LogAccess(int status) const {
  const http::Request& in = ex_->request();
  const auto ms = [](base::Duration d) { return static_cast<int64_t>(base::ToMillis(d)); };
  const base::TimePoint now = ctx_->clock().Now();
  base::AccessLog(absl::StrCat(
      "{\"type\":\"access\",\"component\":\"route\",\"id\":", id_, ",\"method\":\"",
      base::JsonEscape(in.method), "\",\"path\":\"", base::JsonEscape(in.path), "\",\"model\":\"",
      base::JsonEscape(req_.info.model), "\",\"status\":", status,
      ",\"stream\":", req_.info.stream ? "true" : "false", ",\"replica\":\"",
      replica_ ? replica_->name() : "", "\",\"attempts\":", tried_.size(),
      ",\"ttfb_ms\":", committed_ ? ms(first_byte_ - start_) : -1,
      ",\"total_ms\":", ms(now - start_), ",\"remote\":\"", base::JsonEscape(in.remote), "\"}"));
}

}  // namespace surge::router
