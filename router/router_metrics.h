// RouterMetrics: the Prometheus series of `surge route` (all `surge:router_`),
// on the shared registry from base/metrics.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/metrics.h"
#include "router/replica.h"

namespace surge::router {

// Series:
//   surge:router_requests_total{endpoint,status}        client-facing answers
//   surge:router_request_duration_seconds               client-facing latency
//   surge:router_time_to_first_byte_seconds             until the first body byte was sent
//   surge:router_upstream_requests_total{replica,outcome}  every attempt (outcome: 2xx, 4xx,
//                                                       429, 5xx, connect_error, timeout,
//                                                       stream_cut, cancelled)
//   surge:router_upstream_duration_seconds{replica}     attempt latency (until complete)
//   surge:router_retries_total{reason}                  retries sent, by what failed
//   surge:router_retries_denied_total                   retries the budget refused
//   surge:router_ejections_total{replica}               replica taken out of rotation
//   surge:router_replica_returns_total{replica}         replica back in rotation
//   surge:router_routing_decisions_total{policy,decision}
//   surge:router_rejected_total{reason}                 refused at admission
//   surge:router_replica_up{replica}, surge:router_replica_outstanding{replica}
//   surge:router_in_flight, surge:router_queue_depth (set by the router)
//
// Thread safety: thread-safe.
class RouterMetrics {
 public:
  RouterMetrics();

  void RecordRequest(std::string_view endpoint, int status, double seconds);
  void RecordTimeToFirstByte(double seconds) { ttfb_->Observe(seconds); }
  void RecordUpstream(const std::string& replica, std::string_view outcome, double seconds);
  void RecordRetry(std::string_view reason) { retries_->With({std::string(reason)}).Inc(); }
  void RecordRetryDenied() { retries_denied_->Inc(); }
  void RecordEjection(const std::string& replica) { ejections_->With({replica}).Inc(); }
  void RecordReturn(const std::string& replica) { returns_->With({replica}).Inc(); }
  void RecordDecision(std::string_view policy, std::string_view decision);
  void RecordRejection(std::string_view reason) { rejected_->With({std::string(reason)}).Inc(); }

  // Refreshes the per-replica gauges (call before Render()); replicas that
  // left the set read 0.
  void UpdateReplicas(const std::vector<std::shared_ptr<Replica>>& replicas, base::TimePoint now);
  void ReplicaRemoved(const std::string& replica);

  base::MetricsRegistry& registry() { return registry_; }
  std::string Render() const { return registry_.Render(); }

 private:
  base::MetricsRegistry registry_;
  base::Family<base::Counter>* requests_;
  base::Histogram* duration_;
  base::Histogram* ttfb_;
  base::Family<base::Counter>* upstream_;
  base::Family<base::Histogram>* upstream_duration_;
  base::Family<base::Counter>* retries_;
  base::Counter* retries_denied_;
  base::Family<base::Counter>* ejections_;
  base::Family<base::Counter>* returns_;
  base::Family<base::Counter>* decisions_;
  base::Family<base::Counter>* rejected_;
  base::Family<base::Gauge>* up_;
  base::Family<base::Gauge>* outstanding_;
};

}  // namespace surge::router
