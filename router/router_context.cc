#include "router/router_context.h"

#include <algorithm>

#include "base/logging.h"

namespace surge::router {

RouterContext::RouterContext(RouterOptions options, const base::Clock& clock,
                             std::unique_ptr<Policy> policy, boost::asio::io_context& proxy_ioc)
    : options_(std::move(options)),
      clock_(clock),
      replicas_(options_.breaker),
      policy_(std::move(policy)),
      retry_budget_(clock, options_.retry_budget),
      rate_limiter_(options_.rate_limits),
      limiter_(options_.concurrency),
      client_(proxy_ioc) {}

std::vector<std::shared_ptr<Replica>> RouterContext::Eligible(
    std::string_view model, const std::vector<std::string>& tried) const {
  const base::TimePoint now = clock_.Now();
  std::vector<std::shared_ptr<Replica>> out = replicas_.Snapshot();
  std::erase_if(out, [&](const std::shared_ptr<Replica>& r) {
    return !r->routable(now) || !r->ServesModel(model) ||
           std::find(tried.begin(), tried.end(), r->name()) != tried.end();
  });
  return out;
}

bool RouterContext::AnyReplicaServes(std::string_view model) const {
  for (const auto& r : replicas_.Snapshot()) {
    if (r->ServesModel(model)) return true;
  }
  return false;
}

void RouterContext::ReportSuccess(const std::shared_ptr<Replica>& replica) {
  if (replica->RecordSuccess(clock_.Now())) OnReturned(replica);
}

void RouterContext::ReportFailure(const std::shared_ptr<Replica>& replica) {
  if (replica->RecordFailure(clock_.Now())) OnEjected(replica);
}

void RouterContext::OnEjected(const std::shared_ptr<Replica>& replica) {
  SURGE_LOG_WARN("route: replica {} ejected (failing); checking it again later", replica->name());
  metrics_.RecordEjection(replica->name());
  policy_->Forget(replica->name());  // its cache is likely gone with it
}

void RouterContext::OnReturned(const std::shared_ptr<Replica>& replica) {
  SURGE_LOG_INFO("route: replica {} is in rotation", replica->name());
  metrics_.RecordReturn(replica->name());
}

}  // namespace surge::router
