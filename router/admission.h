// Admission at the router: per-key token buckets, then the global
// concurrency cap with its bounded queue, in front of ProxyCall.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "router/proxy_call.h"
#include "router/router_context.h"
#include "server/http/exchange.h"

namespace surge::router {

// Admits the request or answers it at once:
//   per-key request or token bucket empty -> 429 rate_limit_exceeded
//   concurrency cap reached, queue full   -> 429 queue_full
//   queued longer than the queue timeout  -> 503 queue_timeout
// each with Retry-After. An admitted request holds one slot of the
// ConcurrencyLimiter, which its ProxyCall gives back. A queued request whose
// client leaves gives up its place.
// `rate_key` names the tenant for the token buckets (the API key, or the
// client's address when there is none).
void AdmitAndProxy(std::shared_ptr<RouterContext> ctx,
                   std::shared_ptr<server::http::Exchange> exchange, ProxyRequest request,
                   const std::string& rate_key);

// An answer the router makes itself, counted and logged like relayed ones.
void RespondRouterError(RouterContext& ctx, server::http::Exchange& exchange,
                        std::string_view endpoint, int status, std::string_view message,
                        std::string_view code, int retry_after_s = 0);

}  // namespace surge::router
