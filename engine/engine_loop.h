// The engine loop's private state and steps (see engine.h). Everything here
// is confined to the loop thread.
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/clock.h"
#include "base/ids.h"
#include "engine/engine.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/runner/runner.h"
#include "engine/session_file.h"
#include "engine/session_table.h"
#include "engine/stop_matcher.h"
#include "scheduler/scheduler.h"

namespace surge::engine {

// One generated stream's state that the scheduler does not keep: sampling,
// detokenization and stop matching. Survives preemption.
struct SeqState {
  SeqState(const model::Tokenizer& tok, const runner::SamplingParams& p, std::vector<std::string> s)
      : sampler(p), decoder(tok), stops(std::move(s)) {}
  int32_t index = 0;
  runner::Sampler sampler;
  model::StreamingDecoder decoder;
  StopMatcher stops;
  int32_t generated = 0;
  std::vector<int32_t> generated_tokens;  // kept for sessions
  bool finished = false;
};

struct RequestState {
  GenerationRequest request;
  RequestHandle handle;
  base::TimePoint arrival;
  std::optional<base::TimePoint> first_scheduled, first_token;
  bool started = false;  // left the queue (admission counters released)
  int32_t cached_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t num_finished = 0;
  std::vector<bool> seq_finished;
  std::vector<base::SequenceId> seqs;
};

struct Engine::Impl {
  // Steps of the loop (engine_loop.cc).
  void Admit(std::pair<GenerationRequest, RequestHandle> item);
  void CancelRequest(base::RequestId id, FinishReason why);
  void Step();
  void EndAll();
  SeqState& StateOf(const scheduler::ScheduledSequence& s, RequestState& r);
  scheduler::SampledToken SampleOne(const scheduler::ScheduledSequence& s, std::span<float> logits);
  void EndSequence(RequestState& r, int32_t index, FinishReason why, std::string error = "");
  void CopyBlocks(const std::vector<kv::BlockCopy>& copies);
  void FillSnapshot(EngineSnapshot& s) const;
  // A finished turn of a session (or a preloaded prompt): pin its KV.
  void KeepSession(const scheduler::ScheduledSequence& s, const RequestState& r, const SeqState& q);

  const model::Model& model;
  Engine& engine;
  base::Duration last_step{};

  Impl(const model::Model& m, Engine& e, const EngineConfig& c, int32_t num_blocks)
      : model(m),
        engine(e),
        cache({m.config().n_layers, m.config().n_kv_heads, m.config().head_dim, c.block_size,
               num_blocks}),
        kv(num_blocks, c.block_size),
        // Queue bounds are enforced once, by Engine::Submit, where a refusal
        // can still be a 429. The scheduler's own bounds stay open: its
        // waiting queue also holds preempted sequences, and counting those
        // would refuse a request Submit had accepted, after the response began.
        scheduler({c.max_batch_tokens, c.max_running_seqs, std::numeric_limits<int32_t>::max(),
                   std::numeric_limits<int64_t>::max(), 0},
                  kv, base::Clock::System()),
        runner(m, cache, c.num_threads),
        sessions(c.sessions, kv, cache, ModelFingerprint(m), m.config().n_vocab) {}

  kv::KvCache cache;
  kv::KvCacheManager kv;
  scheduler::Scheduler scheduler;
  runner::Runner runner;
  SessionTable sessions;
  absl::flat_hash_map<base::RequestId, RequestState> requests;
  absl::flat_hash_map<base::SequenceId, std::unique_ptr<SeqState>> seqs;
  int64_t generation_tokens = 0;
  int64_t prompt_tokens = 0;
  int64_t num_cancelled = 0;
  int64_t num_expired = 0;
};

}  // namespace surge::engine
