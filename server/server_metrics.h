// ServerMetrics: the Prometheus series of `surge serve`, under the names the
// ecosystem already reads (vLLM's `vllm:` names; counters carry the
// conventional `_total` suffix, as Prometheus client libraries write them),
// plus `surge:` series for what vLLM has no name for (rejections,
// cancellations, HTTP errors by status).
//
// Ownership: owns the registry; reads engine figures through Snapshot() at
// scrape time.
// Thread safety: thread-safe.
#pragma once

#include <string>

#include "base/metrics.h"
#include "engine/engine.h"

namespace surge::server {

class ServerMetrics {
 public:
  ServerMetrics(const engine::Engine& engine, const std::string& model_name);

  // One finished request (any outcome) with its engine summary.
  void RecordRequest(const engine::RequestSummary& summary, const std::string& finish_reason);
  void RecordInterTokenLatency(double seconds) { itl_->Observe(seconds); }
  void RecordRejection(const std::string& reason) { rejected_->With({reason}).Inc(); }
  void RecordCancellation() { cancelled_->Inc(); }
  void RecordHttpError(int status) { errors_->With({std::to_string(status)}).Inc(); }

  std::string Render() const { return registry_.Render(); }

 private:
  base::MetricsRegistry registry_;
  base::Family<base::Counter>* success_;
  base::Histogram* ttft_;
  base::Histogram* itl_;
  base::Histogram* e2e_;
  base::Histogram* queue_;
  base::Family<base::Counter>* rejected_;
  base::Counter* cancelled_;
  base::Family<base::Counter>* errors_;
};

}  // namespace surge::server
