#include "router/router_metrics.h"

namespace surge::router {

RouterMetrics::RouterMetrics() {
  base::MetricsRegistry& r = registry_;
  requests_ = &r.AddCounter("surge:router_requests_total",
                            "Client requests answered by the router, by endpoint and status.",
                            {"endpoint", "status"});
  duration_ = &r.AddHistogram("surge:router_request_duration_seconds",
                              "Client request latency through the router.", base::LatencyBuckets())
                   .Get();
  ttfb_ = &r.AddHistogram("surge:router_time_to_first_byte_seconds",
                          "Time until the first response body byte went to the client.",
                          base::LatencyBuckets())
               .Get();
  upstream_ =
      &r.AddCounter("surge:router_upstream_requests_total",
                    "Attempts sent to replicas, by replica and outcome.", {"replica", "outcome"});
  upstream_duration_ = &r.AddHistogram("surge:router_upstream_duration_seconds",
                                       "Duration of attempts sent to a replica.",
                                       base::LatencyBuckets(), {"replica"});
  retries_ = &r.AddCounter("surge:router_retries_total",
                           "Retries sent to another replica, by what failed.", {"reason"});
  retries_denied_ = &r.AddCounter("surge:router_retries_denied_total",
                                  "Retries not sent because the retry budget was spent.")
                         .Get();
  ejections_ = &r.AddCounter("surge:router_ejections_total",
                             "Times a replica was taken out of rotation.", {"replica"});
  returns_ = &r.AddCounter("surge:router_replica_returns_total",
                           "Times a replica came back into rotation.", {"replica"});
  decisions_ = &r.AddCounter("surge:router_routing_decisions_total",
                             "Routing decisions by policy and kind.", {"policy", "decision"});
  rejected_ = &r.AddCounter("surge:router_rejected_total",
                            "Requests the router refused itself, by reason.", {"reason"});
  up_ = &r.AddGauge("surge:router_replica_up", "1 if the replica is in rotation.", {"replica"});
  outstanding_ = &r.AddGauge("surge:router_replica_outstanding",
                             "Requests in flight to the replica.", {"replica"});
}

void RouterMetrics::RecordRequest(std::string_view endpoint, int status, double seconds) {
  requests_->With({std::string(endpoint), std::to_string(status)}).Inc();
  duration_->Observe(seconds);
}

void RouterMetrics::RecordUpstream(const std::string& replica, std::string_view outcome,
                                   double seconds) {
  upstream_->With({replica, std::string(outcome)}).Inc();
  upstream_duration_->With({replica}).Observe(seconds);
}

void RouterMetrics::RecordDecision(std::string_view policy, std::string_view decision) {
  decisions_->With({std::string(policy), std::string(decision)}).Inc();
}

void RouterMetrics::UpdateReplicas(const std::vector<std::shared_ptr<Replica>>& replicas,
                                   base::TimePoint now) {
  for (const auto& r : replicas) {
    up_->With({r->name()}).Set(r->routable(now) ? 1 : 0);
    outstanding_->With({r->name()}).Set(static_cast<double>(r->outstanding()));
  }
}

void RouterMetrics::ReplicaRemoved(const std::string& replica) {
  up_->With({replica}).Set(0);
  outstanding_->With({replica}).Set(0);
}

}  // namespace surge::router
