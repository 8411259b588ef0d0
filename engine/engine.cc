#include "engine/engine.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/logging.h"
#include "engine/engine_loop.h"

namespace surge::engine {

int64_t KvCacheBytes(const model::ModelConfig& mc, const EngineConfig& c) {
  const int64_t context = c.max_context > 0 ? c.max_context : mc.n_ctx_train;
  const kv::KvCacheShape shape{mc.n_layers, mc.n_kv_heads, mc.head_dim, c.block_size, 1, c.kv_type};
  if (shape.bytes_per_block() <= 0) return 0;  // a head size the type cannot hold
  int64_t bytes = c.kv_cache_bytes;
  if (bytes <= 0) {
    const int64_t blocks = (context + c.block_size - 1) / c.block_size;
    bytes = blocks * std::max<int64_t>(1, c.max_running_seqs / 4) * shape.bytes_per_block();
  }
  return bytes / shape.bytes_per_block() * shape.bytes_per_block();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const model::Model& model,
                                                       const EngineConfig& config) {
  EngineConfig c = config;
  if (c.num_threads <= 0) c.num_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (c.block_size <= 0 || c.max_batch_tokens <= 0 || c.max_running_seqs <= 0) {
    return absl::InvalidArgumentError(
        "engine: block size, batch tokens and running sequences must be positive");
  }
  if (c.max_queued_requests < 0 || c.max_queued_tokens < 0) {
    return absl::InvalidArgumentError("engine: the queue bounds must be >= 0");
  }
  std::unique_ptr<Engine> e(new Engine(model, c));
  const model::ModelConfig& mc = model.config();
  e->max_context_ = c.max_context > 0 ? c.max_context : mc.n_ctx_train;
  if (absl::Status s = kv::CheckKvType(c.kv_type, mc.head_dim); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("engine: ", s.message()));
  }
  const kv::KvCacheShape shape{mc.n_layers, mc.n_kv_heads, mc.head_dim, c.block_size, 1, c.kv_type};
  const int64_t bytes = KvCacheBytes(mc, c);
  const int64_t num_blocks = bytes / shape.bytes_per_block();
  if (num_blocks * c.block_size < e->max_context_) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine: a KV cache of ", bytes, " bytes holds ", num_blocks * c.block_size,
                     " tokens, less than one context of ", e->max_context_));
  }
  e->impl_ = std::make_unique<Impl>(model, *e, c, static_cast<int32_t>(num_blocks));
  return e;
}

Engine::Engine(const model::Model& model, const EngineConfig& config)
    : model_(model), config_(config) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  absl::MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  loop_ = std::jthread([this](std::stop_token st) { Loop(st); });
}

void Engine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    running_ = false;
    wake_.SignalAll();
  }
  loop_.request_stop();
  loop_.join();
}

absl::StatusOr<RequestHandle> Engine::Submit(GenerationRequest request) {
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) return absl::InvalidArgumentError("the prompt is empty");
  if (request.max_tokens < 1) return absl::InvalidArgumentError("max_tokens must be at least 1");
  if (request.n < 1) return absl::InvalidArgumentError("n must be at least 1");
  if (n_prompt + request.max_tokens > max_context_) {
    return absl::InvalidArgumentError(
        absl::StrCat("this model's context is ", max_context_, " tokens; the prompt has ", n_prompt,
                     " tokens and max_tokens asks for ", request.max_tokens, " more"));
  }
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= model_.config().n_vocab) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", t, " is outside the vocabulary"));
    }
  }
  SURGE_RETURN_IF_ERROR(runner::ValidateSamplingParams(request.sampling));
  if ((!request.session_id.empty() || request.preload) && request.n != 1) {
    return absl::InvalidArgumentError("a session or preloaded prompt needs n = 1");
  }
  if (request.session_id.size() > 256) {
    return absl::InvalidArgumentError("session_id is longer than 256 bytes");
  }
  if (request.preload) request.max_tokens = 1;

  // Admission: reserve queue room first, give it back if over a bound.
  if (queued_requests_.fetch_add(1) + 1 > config_.max_queued_requests) {
    queued_requests_.fetch_sub(1);
    return absl::ResourceExhaustedError("the request queue is full");
  }
  if (queued_tokens_.fetch_add(n_prompt) + n_prompt > config_.max_queued_tokens) {
    queued_requests_.fetch_sub(1);
    queued_tokens_.fetch_sub(n_prompt);
    return absl::ResourceExhaustedError("the queue holds too many prompt tokens");
  }
  absl::MutexLock lock(&mu_);
  if (!running_) {
    queued_requests_.fetch_sub(1);
    queued_tokens_.fetch_sub(n_prompt);
    return absl::UnavailableError("the engine is not running");
  }
  RequestHandle handle{base::RequestId(next_id_++), std::make_shared<TokenStream>()};
  inbox_.emplace_back(std::move(request), handle);
  wake_.Signal();
  return handle;
}

void Engine::Cancel(base::RequestId id) {
  absl::MutexLock lock(&mu_);
  cancels_.push_back(id);
  wake_.Signal();
}

EngineSnapshot Engine::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

}  // namespace surge::engine
