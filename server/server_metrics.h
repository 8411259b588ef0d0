// ServerMetrics: the Prometheus series of `surge serve`, under the names the
// ecosystem already reads (vLLM's `vllm:` names; counters carry the
// conventional `_total` suffix, as Prometheus client libraries write them),
// plus `surge:` series for what vLLM has no name for (rejections,
// cancellations, HTTP errors by status, models, tenants, the response cache).
//
// With several models, the engine series (vllm:num_requests_running, ...)
// are sums over the loaded models (kv_cache_usage_perc and the step series:
// the highest); per-model state, memory and in-flight requests are
// surge:model_* series labeled by model. Tenant series carry a `tenant`
// label: the tenant's name for the labeled tenants of the keys file, "other"
// for everyone else, so the label set stays bounded.
//
// Ownership: owns the registry; reads engine, model and cache figures at
// scrape time.
// Thread safety: thread-safe.
#pragma once

#include <string>

#include "base/metrics.h"
#include "engine/engine.h"
#include "server/model_registry.h"
#include "server/response_cache.h"

namespace surge::server {

class ServerMetrics {
 public:
  ServerMetrics(const ModelRegistry& models, const ResponseCache& cache);

  // One finished request (any outcome) with its engine summary.
  void RecordRequest(const engine::RequestSummary& summary, const std::string& finish_reason,
                     const std::string& tenant_label);
  void RecordCachedResponse(const std::string& tenant_label);
  void RecordInterTokenLatency(double seconds) { itl_->Observe(seconds); }
  void RecordRejection(const std::string& reason) { rejected_->With({reason}).Inc(); }
  void RecordQuotaRejection(const std::string& tenant_label, const std::string& quota);
  void RecordCancellation() { cancelled_->Inc(); }
  void RecordHttpError(int status) { errors_->With({std::to_string(status)}).Inc(); }

  // Reads the models' state, then renders every series.
  std::string Render();

 private:
  void AddEngineSeries();
  void AddTenantSeries();
  void AddCacheSeries();

  const ModelRegistry& models_;
  const ResponseCache& cache_;
  base::MetricsRegistry registry_;
  base::Family<base::Counter>* success_;
  base::Histogram* ttft_;
  base::Histogram* itl_;
  base::Histogram* e2e_;
  base::Histogram* queue_;
  base::Family<base::Counter>* rejected_;
  base::Counter* cancelled_;
  base::Family<base::Counter>* errors_;
  base::Family<base::Gauge>* model_state_;
  base::Family<base::Gauge>* model_bytes_;
  base::Family<base::Gauge>* model_in_flight_;
  base::Family<base::Counter>* tenant_requests_;
  base::Family<base::Counter>* tenant_prompt_tokens_;
  base::Family<base::Counter>* tenant_generation_tokens_;
  base::Family<base::Histogram>* tenant_ttft_;
  base::Family<base::Counter>* tenant_quota_;
};

}  // namespace surge::server
