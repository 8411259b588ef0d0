#include "router/admission.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace surge::router {

namespace http = server::http;

void RespondRouterError(RouterContext& ctx, http::Exchange& ex, std::string_view endpoint,
                        int status, std::string_view message, std::string_view code,
                        int retry_after_s) {
  http::Headers headers;
  if (retry_after_s > 0) headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  const char* type = status == 429   ? "rate_limit_error"
                     : status == 401 ? "authentication_error"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  ex.Respond(status, "application/json", http::ErrorJson(message, code, type), std::move(headers));
  ctx.metrics().RecordRequest(endpoint, status, 0);
  const http::Request& in = ex.request();
  base::AccessLog(absl::StrCat(
      "{\"type\":\"access\",\"component\":\"route\",\"method\":\"", base::JsonEscape(in.method),
      "\",\"path\":\"", base::JsonEscape(in.path), "\",\"status\":", status, ",\"error\":\"",
      base::JsonEscape(code), "\",\"remote\":\"", base::JsonEscape(in.remote), "\"}"));
}

namespace {

int CeilSeconds(base::Duration d) {
  return std::max(1, static_cast<int>(std::ceil(base::ToSeconds(d))));
}

// Runs on the exchange's strand once the queued request got a slot or
// timed out.
void OnQueueDone(const std::shared_ptr<RouterContext>& ctx,
                 const std::shared_ptr<http::Exchange>& ex, ProxyRequest& request,
                 ConcurrencyLimiter::Outcome outcome) {
  if (outcome != ConcurrencyLimiter::Outcome::kGranted) {
    ctx->metrics().RecordRejection("queue_timeout");
    RespondRouterError(*ctx, *ex, request.endpoint, 503,
                       "the router's queue did not move in time; retry later", "queue_timeout", 1);
    return;
  }
  if (ex->closed()) {
    ctx->limiter().Release();
    return;
  }
  ProxyCall::Start(ctx, ex, std::move(request));
}

}  // namespace

void AdmitAndProxy(std::shared_ptr<RouterContext> ctx, std::shared_ptr<http::Exchange> ex,
                   ProxyRequest request, const std::string& rate_key) {
  const base::TimePoint now = ctx->clock().Now();
  const int64_t tokens = request.info.EstimatedTokens(ctx->options().proxy.default_max_tokens);
  KeyRateLimiter::Verdict v = ctx->rate_limiter().Admit(rate_key, tokens, now);
  if (!v.allowed) {
    ctx->metrics().RecordRejection(absl::StrCat("rate_limit_", v.limit));
    return RespondRouterError(
        *ctx, *ex, request.endpoint, 429,
        absl::StrCat("rate limit reached (", v.limit, " per second for this key); retry later"),
        "rate_limit_exceeded", CeilSeconds(v.retry_after));
  }
  auto pending = std::make_shared<ProxyRequest>(std::move(request));
  uint64_t ticket = 0;
  auto on_ready = [ctx, ex, pending](ConcurrencyLimiter::Outcome outcome) {
    ex->Post([ctx, ex, pending, outcome] { OnQueueDone(ctx, ex, *pending, outcome); });
  };
  switch (ctx->limiter().Acquire(now, on_ready, &ticket)) {
    case ConcurrencyLimiter::Outcome::kGranted:
      return ProxyCall::Start(ctx, ex, std::move(*pending));
    case ConcurrencyLimiter::Outcome::kQueued:
      ex->OnClose([ctx, ticket] { ctx->limiter().Cancel(ticket); });
      return;
    default:
      ctx->metrics().RecordRejection("queue_full");
      return RespondRouterError(*ctx, *ex, pending->endpoint, 429,
                                "the router is at its concurrency limit and its queue is full",
                                "queue_full", 1);
  }
}

}  // namespace surge::router
