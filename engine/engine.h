// Engine serves one model to many concurrent callers: it owns the model's KV
// cache, scheduler, runner and samplers, and runs them on one loop thread:
//
//   plan = scheduler.Schedule();  logits = runner.Forward(plan);
//   sample, detokenize, match stops, stream;  scheduler.Update(plan, result);
//
// Callers Submit() requests from any thread and read each request's output
// from its TokenStream. Admission is decided at once on the caller's thread
// (bounded queue by requests and by prompt tokens), so an overloaded engine
// refuses quickly instead of queueing without bound.
//
// Ownership: borrows the Model (must outlive the Engine); owns its loop
// thread (std::jthread, started by Start(), joined by Stop()).
// Thread safety: Submit, Cancel and Snapshot are thread-safe; everything the
// loop owns (scheduler, KV, runner, samplers) is confined to the loop thread
// and holds no locks.
// Errors: Submit returns InvalidArgument for a request that can never run
// (prompt over the context, bad sampling values), ResourceExhausted when the
// queue is full, Unavailable when the engine is not running. Once accepted, a
// request always ends with exactly one terminal event per sequence.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/status.h"
#include "engine/compute_arbiter.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/prefix_hash.h"
#include "engine/model/model.h"
#include "engine/runner/sampler.h"
#include "engine/session_table.h"
#include "engine/token_stream.h"

namespace surge::engine {

struct EngineConfig {
  int num_threads = 0;                    // compute threads; 0: one per core
  int64_t kv_cache_bytes = 0;             // 0: enough for max_running_seqs / 4 full contexts
  kv::KvType kv_type = kv::KvType::kF16;  // kQ8_0: half the bytes a token (head_dim % 32 == 0)
  int32_t block_size = 16;                // tokens per KV block
  int64_t max_batch_tokens = 512;         // token budget of one step
  int32_t max_running_seqs = 256;
  int32_t max_queued_requests = 1024;
  int64_t max_queued_tokens = 1 << 20;
  int64_t max_context = 0;  // 0: the model's training context
  // Engines that share one arbiter take turns for each step's compute
  // (several models on one machine); null: this engine computes at will.
  std::shared_ptr<ComputeArbiter> compute_arbiter;
  SessionConfig sessions;  // see session_table.h
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int32_t max_tokens = 16;
  int32_t n = 1;
  runner::SamplingParams sampling;  // seed of sequence i is sampling.seed + i
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;
  std::vector<std::string> stop_strings;
  int32_t priority = 0;  // lower runs sooner
  std::optional<base::Duration> queue_timeout;
  uint64_t salt = 0;  // tenant: prefix-cache sharing only within a salt
  // Fair share between tenants of equal priority (weighted by tokens
  // served); tenant_weight > 0.
  uint64_t tenant = 0;
  double tenant_weight = 1.0;
  bool logprobs = false;
  // Binds the request to a conversation whose KV stays pinned between turns
  // (session_table.h); scoped to `salt`. Needs n == 1.
  std::string session_id;
  // Prefill the prompt and pin it for good (a preloaded system prompt); the
  // request generates nothing and ends with FinishReason::kLength.
  bool preload = false;
};

// The prefix-cache salt (and fair-share id) of a tenant name: callers that
// know tenants pass it as GenerationRequest::salt and ::tenant. "" gives 0,
// the namespace of requests without a tenant.
inline uint64_t TenantSalt(std::string_view tenant) { return kv::SaltForTenant(tenant); }

struct RequestHandle {
  base::RequestId id;
  std::shared_ptr<TokenStream> stream;
};

struct EngineSnapshot {
  int32_t num_running = 0;
  int32_t num_waiting = 0;
  double kv_usage = 0;
  int64_t prefix_query_tokens = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t num_preemptions = 0;
  int64_t num_steps = 0;
  double mean_tokens_per_step = 0;
  double last_step_seconds = 0;
  int64_t prompt_tokens = 0;  // computed, over all steps
  int64_t generation_tokens = 0;
  int64_t num_cancelled = 0;
  int64_t num_expired = 0;
  int32_t num_sessions = 0;
  int32_t session_pinned_blocks = 0;
  int64_t num_sessions_expired = 0;
  int64_t num_sessions_restored = 0;
};

// The KV cache Engine::Create() allocates for a model of config `mc` under
// `config`: the configured bytes, or enough for max_running_seqs / 4 full
// contexts, in whole blocks.
int64_t KvCacheBytes(const model::ModelConfig& mc, const EngineConfig& config);

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const model::Model& model,
                                                        const EngineConfig& config);
  ~Engine();  // Stop()s

  void Start();
  // Cancels whatever is still running, ends every stream, joins the loop.
  void Stop();

  [[nodiscard]] absl::StatusOr<RequestHandle> Submit(GenerationRequest request);
  // Takes effect at the next step, whatever state the request is in.
  void Cancel(base::RequestId id);
  EngineSnapshot Snapshot() const;

  const model::Model& model() const { return model_; }
  const EngineConfig& config() const { return config_; }
  int64_t max_context() const { return max_context_; }

 private:
  struct Impl;  // the loop's state: scheduler, KV, runner, samplers
  Engine(const model::Model& model, const EngineConfig& config);
  void Loop(std::stop_token stop);

  const model::Model& model_;
  EngineConfig config_;
  int64_t max_context_ = 0;
  std::unique_ptr<Impl> impl_;

  // The inbox: submissions and cancellations, drained by the loop each step.
  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  std::vector<std::pair<GenerationRequest, RequestHandle>> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<base::RequestId> cancels_ ABSL_GUARDED_BY(mu_);
  EngineSnapshot snapshot_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;

  // Admission counters: requests and prompt tokens accepted but not started.
  std::atomic<int32_t> queued_requests_{0};
  std::atomic<int64_t> queued_tokens_{0};

  std::jthread loop_;
};

}  // namespace surge::engine
