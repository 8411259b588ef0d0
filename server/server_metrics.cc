#include "server/server_metrics.h"

namespace surge::server {

ServerMetrics::ServerMetrics(const engine::Engine& engine, const std::string& model_name) {
  base::MetricsRegistry& r = registry_;
  const engine::Engine* e = &engine;
  (void)model_name;
  r.AddCallbackGauge("vllm:num_requests_running", "Requests in the running batch.",
                     [e] { return e->Snapshot().num_running; });
  r.AddCallbackGauge("vllm:num_requests_waiting", "Requests waiting to be scheduled.",
                     [e] { return e->Snapshot().num_waiting; });
  r.AddCallbackGauge("vllm:kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0-1).",
                     [e] { return e->Snapshot().kv_usage; });
  r.AddCallbackCounter("vllm:prefix_cache_queries_total",
                       "Prompt tokens looked up in the prefix cache.",
                       [e] { return static_cast<double>(e->Snapshot().prefix_query_tokens); });
  r.AddCallbackCounter("vllm:prefix_cache_hits_total", "Prompt tokens found in the prefix cache.",
                       [e] { return static_cast<double>(e->Snapshot().prefix_hit_tokens); });
  r.AddCallbackCounter("vllm:num_preemptions_total", "Sequences preempted for lack of KV blocks.",
                       [e] { return static_cast<double>(e->Snapshot().num_preemptions); });
  r.AddCallbackCounter("vllm:prompt_tokens_total", "Prompt tokens computed (prefill).",
                       [e] { return static_cast<double>(e->Snapshot().prompt_tokens); });
  r.AddCallbackCounter("vllm:generation_tokens_total", "Tokens generated.",
                       [e] { return static_cast<double>(e->Snapshot().generation_tokens); });
  r.AddCallbackGauge("surge:step_seconds", "Duration of the engine's last step.",
                     [e] { return e->Snapshot().last_step_seconds; });
  r.AddCallbackGauge("surge:tokens_per_step", "Mean tokens computed per engine step.",
                     [e] { return e->Snapshot().mean_tokens_per_step; });
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
}

void ServerMetrics::RecordRequest(const engine::RequestSummary& s,
                                  const std::string& finish_reason) {
  success_->With({finish_reason}).Inc();
  if (s.completion_tokens > 0) ttft_->Observe(base::ToSeconds(s.time_to_first_token));
  e2e_->Observe(base::ToSeconds(s.total_time));
  queue_->Observe(base::ToSeconds(s.queue_time));
}

}  // namespace surge::server
