// GenerationCall relays one request's TokenStream to its exchange; Submit
// builds the engine request. See generation_call.h.
#include "server/generation_call.h"

#include <algorithm>
#include <ctime>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/api_server.h"
#include "server/openai/errors.h"
#include "server/response_writer.h"

namespace surge::server {
namespace {

using openai::Endpoint;

openai::FinishReason ToApi(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::kStop:
      return openai::FinishReason::kStop;
    case engine::FinishReason::kLength:
      return openai::FinishReason::kLength;
    case engine::FinishReason::kCancelled:
      return openai::FinishReason::kCancelled;
    case engine::FinishReason::kExpired:
      return openai::FinishReason::kExpired;
    case engine::FinishReason::kError:
      return openai::FinishReason::kError;
  }
  return openai::FinishReason::kError;
}

openai::ResponseMeta NewMeta(ApiServer& server, const GenerationInput& in) {
  openai::ResponseMeta meta;
  meta.id = server.NextId(in.endpoint == Endpoint::kChat ? "chatcmpl" : "cmpl");
  meta.created = std::time(nullptr);
  meta.model = in.common.model;
  return meta;
}

struct AccessRecord {
  int status = 200;
  std::string reason;
  bool cached = false;
};

void AccessLog(const openai::ResponseMeta& meta, const GenerationInput& in,
               const engine::RequestSummary& s, const AccessRecord& a, base::TimePoint start) {
  base::AccessLog(absl::StrCat(
      "{\"type\":\"access\",\"id\":\"", meta.id, "\",\"tenant\":\"",
      base::JsonEscape(in.tenant->name()), "\",\"user\":\"", base::JsonEscape(in.common.user),
      "\",\"model\":\"", base::JsonEscape(meta.model), "\",\"endpoint\":\"",
      in.endpoint == Endpoint::kChat ? "chat" : "completions", "\",\"status\":", a.status,
      ",\"stream\":", in.common.stream ? "true" : "false",
      ",\"cached_response\":", a.cached ? "true" : "false", ",\"prompt_tokens\":", s.prompt_tokens,
      ",\"completion_tokens\":", s.completion_tokens, ",\"cached_tokens\":", s.cached_prompt_tokens,
      ",\"queue_ms\":", static_cast<int64_t>(base::ToMillis(s.queue_time)),
      ",\"ttft_ms\":", static_cast<int64_t>(base::ToMillis(s.time_to_first_token)),
      ",\"total_ms\":", static_cast<int64_t>(base::ToMillis(base::Clock::System().Now() - start)),
      ",\"finish_reason\":\"", a.reason, "\"}"));
}

// Relays one request's TokenStream to its exchange. All relaying runs on the
// connection's strand (Exchange::Post), so writes stay ordered.
class GenerationCall : public std::enable_shared_from_this<GenerationCall> {
 public:
  GenerationCall(ApiServer& server, std::shared_ptr<http::Exchange> ex, GenerationInput in,
                 engine::RequestHandle handle, std::shared_ptr<ModelLease> lease)
      : server_(server),
        ex_(ex),
        in_(std::move(in)),
        handle_(std::move(handle)),
        lease_(std::move(lease)),
        writer_(server, std::move(ex), in_.endpoint, in_.common, NewMeta(server, in_),
                in_.cache_key.has_value()),
        last_token_(static_cast<size_t>(in_.common.sampling.n)),
        start_(base::Clock::System().Now()) {}

  void Begin() {
    std::weak_ptr<GenerationCall> weak = weak_from_this();
    ex_->OnClose([weak] {
      if (auto self = weak.lock()) self->ClientGone();
    });
    writer_.Start();
    // The notifier runs on the engine loop: hop to the connection's strand.
    // It holds the call alive until Finish() clears it (every accepted
    // request ends with a summary, also when cancelled).
    handle_.stream->SetNotifier(
        [self = shared_from_this()] { self->ex_->Post([self] { self->Drain(); }); });
    ex_->Post([self = shared_from_this()] { self->Drain(); });
  }

 private:
  void ClientGone() {
    if (lease_) lease_->engine().Cancel(handle_.id);
    server_.metrics().RecordCancellation();
  }

  void Drain() {
    if (done_) return;
    while (std::optional<engine::TokenStream::Item> item = handle_.stream->TryNext()) {
      if (item->summary) return Finish(*item->summary);
      OnEvent(*item->event);
    }
  }

  void OnEvent(const engine::TokenEvent& ev) {
    if (!ev.tokens.empty() && ev.index >= 0 &&
        ev.index < static_cast<int32_t>(last_token_.size())) {
      base::TimePoint& last = last_token_[static_cast<size_t>(ev.index)];
      if (last != base::TimePoint{}) {
        server_.metrics().RecordInterTokenLatency(base::ToSeconds(ev.time - last));
      }
      last = ev.time;
    }
    openai::Choice delta;
    delta.index = ev.index;
    delta.text = ev.text;
    if (ev.finish) delta.finish = ToApi(*ev.finish);
    if (in_.common.sampling.logprobs) delta.logprobs = Logprobs(ev);
    writer_.Delta(std::move(delta), ev.error);
  }

  std::vector<openai::TokenLogprob> Logprobs(const engine::TokenEvent& ev) const {
    std::vector<openai::TokenLogprob> out;
    const engine::model::Tokenizer& tok = lease_->engine().model().tokenizer();
    for (size_t i = 0; i < ev.tokens.size() && i < ev.logprobs.size(); ++i) {
      openai::TokenLogprob lp{tok.TokenToPiece(ev.tokens[i]), ev.logprobs[i], {}};
      if (i < ev.top_logprobs.size()) {
        for (const engine::TokenLogprob& t : ev.top_logprobs[i]) {
          lp.top.push_back({tok.TokenToPiece(t.token), t.logprob});
        }
      }
      out.push_back(std::move(lp));
    }
    return out;
  }

  void Finish(const engine::RequestSummary& s) {
    done_ = true;
    handle_.stream->SetNotifier(nullptr);  // drops the notifier's reference to this call
    server_.in_flight().fetch_sub(1);
    if (in_.cache_key) {
      if (auto rec = writer_.Recording(s.prompt_tokens, s.completion_tokens)) {
        server_.response_cache().Insert(*in_.cache_key, std::move(rec));
      }
    }
    in_.ticket->ChargeTokens(s.completion_tokens);
    // The tenant's slot frees before the last bytes go out: a client that
    // sends its next request as soon as this one ends must not find it taken.
    in_.ticket.reset();
    AccessRecord a;
    a.reason = writer_.finish_reason();
    server_.metrics().RecordRequest(s, a.reason, in_.tenant->metric_label());
    a.status = writer_.Finish({s.prompt_tokens, s.completion_tokens, s.cached_prompt_tokens});
    AccessLog(writer_.meta(), in_, s, a, start_);
    lease_.reset();  // the model may unload now (keep_alive)
  }

  ApiServer& server_;
  std::shared_ptr<http::Exchange> ex_;
  GenerationInput in_;
  engine::RequestHandle handle_;
  std::shared_ptr<ModelLease> lease_;
  ResponseWriter writer_;
  std::vector<base::TimePoint> last_token_;
  base::TimePoint start_;
  bool done_ = false;
};

engine::GenerationRequest EngineRequest(const ApiServer& server, const GenerationInput& in,
                                        const engine::Engine& engine) {
  const openai::SamplingOptions& so = in.common.sampling;
  engine::GenerationRequest r;
  const int64_t room = engine.max_context() - static_cast<int64_t>(in.prompt.size());
  r.max_tokens = so.max_tokens
                     ? *so.max_tokens
                     : static_cast<int32_t>(std::max<int64_t>(
                           1, in.endpoint == Endpoint::kChat ? room : std::min<int64_t>(16, room)));
  r.n = so.n;
  r.sampling.temperature = so.temperature;
  r.sampling.top_p = so.top_p;
  r.sampling.top_k = so.top_k;
  r.sampling.min_p = so.min_p;
  r.sampling.presence_penalty = so.presence_penalty;
  r.sampling.frequency_penalty = so.frequency_penalty;
  r.sampling.repetition_penalty = so.repetition_penalty;
  r.sampling.top_logprobs = so.logprobs ? so.top_logprobs : 0;
  r.sampling.seed = so.seed ? static_cast<uint64_t>(*so.seed) : std::random_device()();
  r.logprobs = so.logprobs;
  r.ignore_eos = so.ignore_eos;
  r.stop_strings = so.stop;
  r.priority = in.common.priority;
  // The tenant of the keys file salts the prefix cache and is the scheduler's
  // fair-share id.
  r.salt = in.tenant->salt();
  r.tenant = in.tenant->salt();
  r.tenant_weight = in.tenant->weight();
  if (server.options().queue_timeout) r.queue_timeout = *server.options().queue_timeout;
  r.session_id = in.common.session_id;
  r.prompt = in.prompt;
  return r;
}

}  // namespace

void StartGeneration(ApiServer& server, std::shared_ptr<http::Exchange> ex, GenerationInput in,
                     std::shared_ptr<ModelLease> lease) {
  engine::Engine& engine = lease->engine();
  absl::StatusOr<engine::RequestHandle> h = engine.Submit(EngineRequest(server, in, engine));
  if (!h.ok()) {
    absl::Status st = h.status();
    if (st.code() == absl::StatusCode::kInvalidArgument &&
        absl::string_view(st.message()).find("context") != absl::string_view::npos) {
      st = openai::WithParam(openai::WithErrorCode(st, "context_length_exceeded"), in.prompt_param);
    }
    if (st.code() == absl::StatusCode::kResourceExhausted)
      server.metrics().RecordRejection("queue_full");
    if (st.code() == absl::StatusCode::kUnavailable)
      server.metrics().RecordRejection("unavailable");
    in.ticket.reset();  // free before the client hears back
    return server.RespondError(*ex, st);
  }
  in.ticket->ChargeTokens(static_cast<int64_t>(in.prompt.size()));
  server.in_flight().fetch_add(1);
  auto call = std::make_shared<GenerationCall>(server, std::move(ex), std::move(in), *std::move(h),
                                               std::move(lease));
  call->Begin();
}

void ReplayCached(ApiServer& server, std::shared_ptr<http::Exchange> ex, const GenerationInput& in,
                  const CachedResponse& cached) {
  const base::TimePoint start = base::Clock::System().Now();
  ResponseWriter writer(server, ex, in.endpoint, in.common, NewMeta(server, in),
                        /*record=*/false);
  writer.Start();
  for (const openai::Choice& delta : cached.deltas) writer.Delta(delta);
  openai::Usage usage{cached.prompt_tokens, cached.completion_tokens, cached.prompt_tokens};
  usage.cached_response = true;
  AccessRecord a;
  a.cached = true;
  a.reason = writer.finish_reason();
  a.status = writer.Finish(usage);
  server.metrics().RecordCachedResponse(in.tenant->metric_label());
  engine::RequestSummary s;
  s.prompt_tokens = cached.prompt_tokens;
  s.cached_prompt_tokens = cached.prompt_tokens;
  s.completion_tokens = cached.completion_tokens;
  AccessLog(writer.meta(), in, s, a, start);
}

}  // namespace surge::server
