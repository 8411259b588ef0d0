#include "server/server_metrics.h"

#include <algorithm>
#include <functional>

namespace surge::server {
namespace {

// A figure summed (or maxed) over the loaded models' engine snapshots.
std::function<double()> OverEngines(const ModelRegistry& models,
                                    double (*figure)(const engine::EngineSnapshot&),
                                    bool max = false) {
  return [&models, figure, max] {
    double out = 0;
    models.ForEachEngine([&](const std::string&, const engine::Engine& e) {
      const double v = figure(e.Snapshot());
      out = max ? std::max(out, v) : out + v;
    });
    return out;
  };
}

}  // namespace

ServerMetrics::ServerMetrics(const ModelRegistry& models, const ResponseCache& cache)
    : models_(models), cache_(cache) {
  base::MetricsRegistry& r = registry_;
  AddEngineSeries();
  success_ = &r.AddCounter("vllm:request_success_total", "Finished requests by finish reason.",
                           {"finished_reason"});
  ttft_ = &r.AddHistogram("vllm:time_to_first_token_seconds", "Time to first token.",
                          base::LatencyBuckets())
               .Get();
  itl_ = &r.AddHistogram("vllm:inter_token_latency_seconds", "Time between output tokens.",
                         base::LatencyBuckets())
              .Get();
  e2e_ = &r.AddHistogram("vllm:e2e_request_latency_seconds", "End-to-end request latency.",
                         base::LatencyBuckets())
              .Get();
  queue_ = &r.AddHistogram("vllm:request_queue_time_seconds", "Time spent waiting in the queue.",
                           base::LatencyBuckets())
                .Get();
  rejected_ = &r.AddCounter("surge:requests_rejected_total",
                            "Requests refused at admission, by reason.", {"reason"});
  cancelled_ = &r.AddCounter("surge:requests_cancelled_total",
                             "Requests cancelled (client gone or shutdown).")
                    .Get();
  errors_ = &r.AddCounter("surge:http_errors_total", "Error responses by HTTP status.", {"status"});
  model_state_ = &r.AddGauge("surge:model_state",
                             "1 for the state each known model is in (unloaded, loading, ready, "
                             "draining), 0 for the others.",
                             {"model", "state"});
  model_bytes_ =
      &r.AddGauge("surge:model_memory_bytes",
                  "Bytes a model is charged against --max-memory (weights + KV).", {"model"});
  model_in_flight_ =
      &r.AddGauge("surge:model_requests_in_flight",
                  "Requests holding a model (running or queued in its engine).", {"model"});
  r.AddCallbackGauge("surge:models_memory_bytes", "Bytes charged by all loaded models.",
                     [&models] { return static_cast<double>(models.memory_used_bytes()); });
  r.AddCallbackGauge("surge:models_memory_budget_bytes", "--max-memory (0: no budget).",
                     [&models] { return static_cast<double>(models.memory_budget_bytes()); });
  AddTenantSeries();
  AddCacheSeries();
}

void ServerMetrics::AddEngineSeries() {
  base::MetricsRegistry& r = registry_;
  using S = engine::EngineSnapshot;
  const ModelRegistry& m = models_;
  r.AddCallbackGauge("vllm:num_requests_running", "Requests in the running batch.",
                     OverEngines(m, [](const S& s) { return double(s.num_running); }));
  r.AddCallbackGauge("vllm:num_requests_waiting", "Requests waiting to be scheduled.",
                     OverEngines(m, [](const S& s) { return double(s.num_waiting); }));
  r.AddCallbackGauge("vllm:kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0-1).",
                     OverEngines(
                         m, [](const S& s) { return s.kv_usage; }, /*max=*/true));
  r.AddCallbackCounter("vllm:prefix_cache_queries_total",
                       "Prompt tokens looked up in the prefix cache.",
                       OverEngines(m, [](const S& s) { return double(s.prefix_query_tokens); }));
  r.AddCallbackCounter("vllm:prefix_cache_hits_total", "Prompt tokens found in the prefix cache.",
                       OverEngines(m, [](const S& s) { return double(s.prefix_hit_tokens); }));
  r.AddCallbackCounter("vllm:num_preemptions_total", "Sequences preempted for lack of KV blocks.",
                       OverEngines(m, [](const S& s) { return double(s.num_preemptions); }));
  r.AddCallbackCounter("vllm:prompt_tokens_total", "Prompt tokens computed (prefill).",
                       OverEngines(m, [](const S& s) { return double(s.prompt_tokens); }));
  r.AddCallbackCounter("vllm:generation_tokens_total", "Tokens generated.",
                       OverEngines(m, [](const S& s) { return double(s.generation_tokens); }));
  r.AddCallbackGauge("surge:step_seconds", "Duration of the engine's last step.",
                     OverEngines(
                         m, [](const S& s) { return s.last_step_seconds; }, true));
  r.AddCallbackGauge("surge:tokens_per_step", "Mean tokens computed per engine step.",
                     OverEngines(
                         m, [](const S& s) { return s.mean_tokens_per_step; }, true));
}

void ServerMetrics::AddTenantSeries() {
  base::MetricsRegistry& r = registry_;
  tenant_requests_ = &r.AddCounter(
      "surge:tenant_requests_total",
      "Requests per tenant by outcome: finished (computed), cached (replayed), rejected (quota).",
      {"tenant", "outcome"});
  tenant_prompt_tokens_ = &r.AddCounter("surge:tenant_prompt_tokens_total",
                                        "Prompt tokens of finished requests.", {"tenant"});
  tenant_generation_tokens_ = &r.AddCounter("surge:tenant_generation_tokens_total",
                                            "Tokens generated for the tenant.", {"tenant"});
  tenant_ttft_ =
      &r.AddHistogram("surge:tenant_time_to_first_token_seconds", "Time to first token per tenant.",
                      base::LatencyBuckets(), {"tenant"});
  tenant_quota_ = &r.AddCounter("surge:tenant_quota_rejections_total",
                                "Requests refused by a tenant quota.", {"tenant", "quota"});
}

void ServerMetrics::AddCacheSeries() {
  base::MetricsRegistry& r = registry_;
  const ResponseCache& c = cache_;
  r.AddCallbackCounter("surge:response_cache_hits_total", "Requests answered from the cache.",
                       [&c] { return static_cast<double>(c.stats().hits); });
  r.AddCallbackCounter("surge:response_cache_misses_total",
                       "Deterministic requests not found in the cache.",
                       [&c] { return static_cast<double>(c.stats().misses); });
  r.AddCallbackCounter("surge:response_cache_evictions_total",
                       "Entries dropped to stay within --response-cache-bytes.",
                       [&c] { return static_cast<double>(c.stats().evictions); });
  r.AddCallbackGauge("surge:response_cache_bytes", "Bytes held by the response cache.",
                     [&c] { return static_cast<double>(c.stats().bytes); });
  r.AddCallbackGauge("surge:response_cache_entries", "Responses held by the response cache.",
                     [&c] { return static_cast<double>(c.stats().entries); });
}

void ServerMetrics::RecordRequest(const engine::RequestSummary& s, const std::string& finish_reason,
                                  const std::string& tenant_label) {
  success_->With({finish_reason}).Inc();
  if (s.completion_tokens > 0) {
    ttft_->Observe(base::ToSeconds(s.time_to_first_token));
    tenant_ttft_->With({tenant_label}).Observe(base::ToSeconds(s.time_to_first_token));
  }
  e2e_->Observe(base::ToSeconds(s.total_time));
  queue_->Observe(base::ToSeconds(s.queue_time));
  tenant_requests_->With({tenant_label, "finished"}).Inc();
  tenant_prompt_tokens_->With({tenant_label}).Inc(s.prompt_tokens);
  tenant_generation_tokens_->With({tenant_label}).Inc(s.completion_tokens);
}

void ServerMetrics::RecordCachedResponse(const std::string& tenant_label) {
  tenant_requests_->With({tenant_label, "cached"}).Inc();
}

void ServerMetrics::RecordQuotaRejection(const std::string& tenant_label,
                                         const std::string& quota) {
  tenant_requests_->With({tenant_label, "rejected"}).Inc();
  tenant_quota_->With({tenant_label, quota}).Inc();
}

std::string ServerMetrics::Render() {
  const char* kStates[] = {"unloaded", "loading", "ready", "draining"};
  for (const ModelStatus& m : models_.List()) {
    for (const char* state : kStates) {
      model_state_->With({m.name, state}).Set(std::string(ToString(m.state)) == state ? 1 : 0);
    }
    model_bytes_->With({m.name}).Set(static_cast<double>(m.bytes));
    model_in_flight_->With({m.name}).Set(m.in_flight);
  }
  return registry_.Render();
}

}  // namespace surge::server
