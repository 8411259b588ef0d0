// The engine loop: drain the inbox, schedule, run, sample, stream, update.
#include "engine/engine_loop.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "base/logging.h"

namespace surge::engine {

using base::Clock;
using base::RequestId;
using base::SequenceId;

void Engine::Loop(std::stop_token stop) {
  Impl& s = *impl_;
  s.sessions.LoadAll(Clock::System().Now());
  while (!stop.stop_requested()) {
    std::vector<std::pair<GenerationRequest, RequestHandle>> inbox;
    std::vector<RequestId> cancels;
    {
      absl::MutexLock lock(&mu_);
      // Sleep while there is nothing to do; a step that planned nothing (a
      // request waiting for blocks that only a finishing one can free)
      // retries after a short pause instead of spinning.
      if (inbox_.empty() && cancels_.empty() && running_) {
        wake_.WaitWithTimeout(&mu_,
                              s.scheduler.idle() ? absl::Milliseconds(100) : absl::ZeroDuration());
      }
      inbox.swap(inbox_);
      cancels.swap(cancels_);
      if (!running_) break;
    }
    for (auto& item : inbox) s.Admit(std::move(item));
    for (RequestId id : cancels) s.CancelRequest(id, FinishReason::kCancelled);
    if (!s.scheduler.idle()) s.Step();
    s.sessions.Expire(Clock::System().Now());
    if (s.scheduler.idle()) s.sessions.SaveDirty();
    absl::MutexLock lock(&mu_);
    s.FillSnapshot(snapshot_);
  }
  s.EndAll();
  s.sessions.SaveDirty();
}

void Engine::Impl::Admit(std::pair<GenerationRequest, RequestHandle> item) {
  auto& [request, handle] = item;
  scheduler::Request r;
  r.id = handle.id;
  r.prompt = request.prompt;
  r.max_tokens = request.max_tokens;
  r.n = request.n;
  r.priority = request.priority;
  r.arrival = Clock::System().Now();
  if (request.queue_timeout) r.queue_deadline = r.arrival + *request.queue_timeout;
  r.salt = request.salt;
  r.tenant = request.tenant;
  r.weight = request.tenant_weight;
  RequestState& state = requests[handle.id];
  state.arrival = r.arrival;
  state.seq_finished.assign(request.n, false);
  state.request = std::move(request);
  state.handle = handle;
  scheduler::AdmitResult result = scheduler.Add(std::move(r));
  if (result != scheduler::AdmitResult::kAdmitted) {
    const std::string why =
        result == scheduler::AdmitResult::kTooLong
            ? "the request needs more KV cache than this server has"
            : std::string("not admitted: ") + std::string(scheduler::ToString(result));
    const int32_t n = state.request.n;  // the last EndSequence erases `state`
    for (int32_t i = 0; i < n; ++i) EndSequence(state, i, FinishReason::kError, why);
  }
}

void Engine::Impl::CancelRequest(RequestId id, FinishReason why) {
  auto it = requests.find(id);
  if (it == requests.end()) return;
  scheduler.Cancel(id);
  if (why == FinishReason::kCancelled) ++num_cancelled;
  if (why == FinishReason::kExpired) ++num_expired;
  for (int32_t i = 0;; ++i) {  // the last EndSequence erases the request
    auto cur = requests.find(id);
    if (cur == requests.end() || i >= cur->second.request.n) break;
    if (!cur->second.seq_finished[i]) EndSequence(cur->second, i, why);
  }
}

void Engine::Impl::EndAll() {
  std::vector<RequestId> ids;
  for (const auto& [id, r] : requests) ids.push_back(id);
  for (RequestId id : ids) CancelRequest(id, FinishReason::kCancelled);
}

// Ends one sequence of a request; the last one ends the request. Releases the
// request's admission reservation if it never left the queue.
void Engine::Impl::EndSequence(RequestState& r, int32_t index, FinishReason why,
                               std::string error) {
  SURGE_CHECK(!r.seq_finished[index]);
  r.seq_finished[index] = true;
  TokenEvent ev;
  ev.index = index;
  ev.finish = why;
  ev.error = std::move(error);
  for (SequenceId id : r.seqs) {
    auto it = seqs.find(id);
    if (it != seqs.end() && it->second->index == index) {
      ev.text = it->second->decoder.Flush();
      if (why != FinishReason::kStop) ev.text += it->second->stops.Flush();
      seqs.erase(it);
      break;
    }
  }
  r.handle.stream->Push(std::move(ev));
  if (++r.num_finished < r.request.n) return;
  if (!r.started) {
    engine.queued_requests_.fetch_sub(1);
    engine.queued_tokens_.fetch_sub(static_cast<int64_t>(r.request.prompt.size()));
  }
  const base::TimePoint now = Clock::System().Now();
  RequestSummary sum;
  sum.prompt_tokens = static_cast<int32_t>(r.request.prompt.size());
  sum.cached_prompt_tokens = r.cached_tokens;
  sum.completion_tokens = r.completion_tokens;
  sum.queue_time = (r.first_scheduled ? *r.first_scheduled : now) - r.arrival;
  sum.time_to_first_token = (r.first_token ? *r.first_token : now) - r.arrival;
  sum.total_time = now - r.arrival;
  std::shared_ptr<TokenStream> stream = r.handle.stream;
  requests.erase(r.handle.id);  // r is gone from here on
  stream->Finish(sum);
}

void Engine::Impl::CopyBlocks(const std::vector<kv::BlockCopy>& copies) {
  const kv::KvCacheShape& shape = cache.shape();
  for (const kv::BlockCopy& c : copies) {
    for (int layer = 0; layer < shape.n_layers; ++layer) {
      for (int g = 0; g < shape.n_kv_heads; ++g) {
        const int64_t src = cache.Offset(c.src_block, g, 0), dst = cache.Offset(c.dst_block, g, 0);
        const size_t bytes = static_cast<size_t>(c.num_slots * shape.row_bytes());
        std::memcpy(cache.k(layer) + dst, cache.k(layer) + src, bytes);
        std::memcpy(cache.v(layer) + dst, cache.v(layer) + src, bytes);
      }
    }
  }
}

SeqState& Engine::Impl::StateOf(const scheduler::ScheduledSequence& s, RequestState& r) {
  auto it = seqs.find(s.seq);
  if (it != seqs.end()) return *it->second;
  runner::SamplingParams p = r.request.sampling;
  p.seed += static_cast<uint64_t>(s.sample_index);
  auto state = std::make_unique<SeqState>(model.tokenizer(), p, r.request.stop_strings);
  state->index = s.sample_index;
  r.seqs.push_back(s.seq);
  return *seqs.emplace(s.seq, std::move(state)).first->second;
}

// Samples the sequence's next token, streams it, and tells the scheduler
// whether the sequence is finished.
scheduler::SampledToken Engine::Impl::SampleOne(const scheduler::ScheduledSequence& s,
                                                std::span<float> logits) {
  RequestState& r = requests.at(s.request);
  SeqState& q = StateOf(s, r);
  runner::SampleResult sample = q.sampler.Sample(logits);
  const int32_t token = sample.token;
  ++q.generated;
  ++r.completion_tokens;
  ++generation_tokens;
  if (!r.first_token) r.first_token = Clock::System().Now();

  const model::Tokenizer& tok = model.tokenizer();
  std::optional<FinishReason> finish;
  bool hidden = false;  // an end token's text is not part of the output
  if ((!r.request.ignore_eos && tok.IsEndOfGeneration(token)) ||
      std::find(r.request.stop_token_ids.begin(), r.request.stop_token_ids.end(), token) !=
          r.request.stop_token_ids.end()) {
    finish = FinishReason::kStop;
    hidden = true;
  }
  TokenEvent ev;
  ev.index = q.index;
  ev.tokens.push_back(token);
  if (r.request.logprobs) {
    ev.logprobs.push_back(sample.logprob);
    std::vector<TokenLogprob> top;
    for (const runner::TokenLogprob& t : sample.top) top.push_back({t.token, t.logprob});
    ev.top_logprobs.push_back(std::move(top));
  }
  if (!hidden) {
    StopMatcher::Result m = q.stops.Push(q.decoder.Push(token));
    ev.text = std::move(m.emit);
    if (m.stopped) finish = FinishReason::kStop;
  }
  if (!finish && q.generated >= r.request.max_tokens) finish = FinishReason::kLength;
  q.generated_tokens.push_back(token);
  if (finish && (r.request.preload || !r.request.session_id.empty())) KeepSession(s, r, q);
  if (!r.request.preload) r.handle.stream->Push(std::move(ev));  // a preload generates nothing
  if (finish) {
    if (*finish == FinishReason::kStop) q.stops.Flush();  // held text after a stop is dropped
    EndSequence(r, q.index, *finish);                     // r and q are gone from here on
  }
  return {s.seq, token, finish.has_value()};
}

void Engine::Impl::Step() {
  const base::TimePoint t0 = Clock::System().Now();
  scheduler::StepPlan plan = scheduler.Schedule();
  for (RequestId id : plan.expired) {
    ++num_expired;
    // Each EndSequence may end (and erase) the request: look it up afresh.
    for (int32_t i = 0;; ++i) {
      auto it = requests.find(id);
      if (it == requests.end() || i >= it->second.request.n) break;
      if (!it->second.seq_finished[i]) {
        EndSequence(it->second, i, FinishReason::kExpired, "waited in the queue past its deadline");
      }
    }
  }
  if (plan.empty()) return;
  CopyBlocks(plan.block_copies);

  std::vector<runner::SequenceChunk> chunks;
  chunks.reserve(plan.sequences.size());
  for (const scheduler::ScheduledSequence& s : plan.sequences) {
    RequestState& r = requests.at(s.request);
    if (!r.started) {
      r.started = true;
      r.first_scheduled = t0;
      r.cached_tokens = static_cast<int32_t>(s.start_position);
      engine.queued_requests_.fetch_sub(1);
      engine.queued_tokens_.fetch_sub(static_cast<int64_t>(r.request.prompt.size()));
    }
    chunks.push_back({s.tokens, s.start_position, s.block_table, s.needs_logits});
  }
  prompt_tokens += plan.num_prefill_tokens;
  // Engines sharing the machine take turns for the compute of a step.
  scheduler::StepResult result;
  {
    ComputeArbiter* arbiter = engine.config().compute_arbiter.get();
    const ComputeArbiter::Turn turn =
        arbiter != nullptr ? arbiter->Acquire() : ComputeArbiter::Turn::None();
    std::span<float> logits = runner.Forward(chunks);
    const int64_t n_vocab = model.config().n_vocab;
    int64_t row = 0;
    for (const scheduler::ScheduledSequence& s : plan.sequences) {
      if (!s.needs_logits || s.tokens.empty()) continue;
      std::span<float> row_logits = logits.subspan(row++ * n_vocab, n_vocab);
      result.sampled.push_back(SampleOne(s, row_logits));
    }
  }
  scheduler.Update(plan, result);
  last_step = Clock::System().Now() - t0;
}

void Engine::Impl::KeepSession(const scheduler::ScheduledSequence& s, const RequestState& r,
                               const SeqState& q) {
  // The KV of every token but the one just sampled is written; this step's
  // blocks are not committed to the prefix cache until the scheduler's
  // Update(), which frees the sequence, so commit them here first.
  std::vector<int32_t> tokens = r.request.prompt;
  tokens.insert(tokens.end(), q.generated_tokens.begin(), q.generated_tokens.end() - 1);
  kv.CommitFullBlocks(s.seq, tokens);
  if (r.request.preload) {
    sessions.Preload(s.seq, tokens);
  } else {
    sessions.Update(r.request.salt, r.request.session_id, s.seq, tokens, Clock::System().Now());
  }
}

void Engine::Impl::FillSnapshot(EngineSnapshot& out) const {
  scheduler::SchedulerStats st = scheduler.Snapshot();
  out.num_running = st.num_running;
  out.num_waiting = st.num_waiting;
  out.kv_usage = st.kv_usage;
  out.prefix_query_tokens = st.prefix_query_tokens;
  out.prefix_hit_tokens = st.prefix_hit_tokens;
  out.num_preemptions = st.num_preemptions;
  out.num_steps = st.num_steps;
  out.mean_tokens_per_step = st.mean_tokens_per_step;
  out.last_step_seconds = base::ToSeconds(last_step);
  out.prompt_tokens = prompt_tokens;
  out.generation_tokens = generation_tokens;
  out.num_cancelled = num_cancelled;
  out.num_expired = num_expired;
  const SessionStats ss = sessions.stats();
  out.num_sessions = ss.num_sessions;
  out.session_pinned_blocks = ss.num_pinned_blocks;
  out.num_sessions_expired = ss.num_expired;
  out.num_sessions_restored = ss.num_restored;
}

}  // namespace surge::engine
