// /v1/completions and /v1/chat/completions: parse, render and tokenize on the
// I/O thread, submit to the engine, relay its token stream as one JSON
// response or as Server-Sent Events.
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/api_server.h"
#include "server/openai/errors.h"
#include "server/openai/format.h"
#include "server/openai/parse.h"

namespace surge::server {
namespace {

using openai::Endpoint;

// What both endpoints hand to GenerationCall once the prompt is tokenized.
struct Prepared {
  Endpoint endpoint = Endpoint::kCompletion;
  openai::CommonRequest common;
  std::vector<int32_t> prompt;
  const char* prompt_param = "prompt";
};

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

// Relays one request's TokenStream to its exchange. All relaying runs on the
// connection's strand (Exchange::Post), so writes stay ordered.
class GenerationCall : public std::enable_shared_from_this<GenerationCall> {
 public:
  GenerationCall(ApiServer& server, std::shared_ptr<http::Exchange> ex, Prepared p,
                 engine::RequestHandle handle)
      : server_(server), ex_(std::move(ex)), p_(std::move(p)), handle_(std::move(handle)) {
    meta_.id = server.NextId(p_.endpoint == Endpoint::kChat ? "chatcmpl" : "cmpl");
    meta_.created = std::time(nullptr);
    meta_.model = server.options().model_name;
    choices_.resize(p_.common.sampling.n);
    for (int32_t i = 0; i < p_.common.sampling.n; ++i) choices_[i].choice.index = i;
    start_ = base::Clock::System().Now();
  }

  void Begin() {
    std::weak_ptr<GenerationCall> weak = weak_from_this();
    ex_->OnClose([weak] {
      if (auto self = weak.lock()) self->ClientGone();
    });
    if (p_.common.stream) {
      ex_->StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    }
    // The notifier runs on the engine loop: hop to the connection's strand.
    // It holds the call alive until Finish() clears it (every accepted
    // request ends with a summary, also when cancelled).
    handle_.stream->SetNotifier(
        [self = shared_from_this()] { self->ex_->Post([self] { self->Drain(); }); });
    ex_->Post([self = shared_from_this()] { self->Drain(); });
  }

 private:
  struct ChoiceState {
    openai::Choice choice;
    std::vector<openai::TokenLogprob> logprobs;
    bool role_sent = false;
    std::string error;
    base::TimePoint last_token{};
  };

  void ClientGone() {
    server_.engine().Cancel(handle_.id);
    server_.metrics().RecordCancellation();
  }

  std::vector<openai::TokenLogprob> Logprobs(const engine::TokenEvent& ev) {
    std::vector<openai::TokenLogprob> out;
    const engine::model::Tokenizer& tok = server_.engine().model().tokenizer();
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

  void Drain() {
    if (done_) return;
    while (std::optional<engine::TokenStream::Item> item = handle_.stream->TryNext()) {
      if (item->summary) return Finish(*item->summary);
      OnEvent(*item->event);
    }
  }

  void OnEvent(const engine::TokenEvent& ev) {
    ChoiceState& c = choices_[ev.index];
    if (!ev.tokens.empty()) {
      if (c.last_token != base::TimePoint{}) {
        server_.metrics().RecordInterTokenLatency(base::ToSeconds(ev.time - c.last_token));
      }
      c.last_token = ev.time;
    }
    std::vector<openai::TokenLogprob> lps;
    if (p_.common.sampling.logprobs) lps = Logprobs(ev);
    if (ev.finish) {
      c.choice.finish = ToApi(*ev.finish);
      c.error = ev.error;
    }
    if (!p_.common.stream) {
      c.choice.text += ev.text;
      c.logprobs.insert(c.logprobs.end(), lps.begin(), lps.end());
      return;
    }
    if (ev.finish && (*ev.finish == engine::FinishReason::kError ||
                      *ev.finish == engine::FinishReason::kExpired)) {
      openai::ApiError e =
          openai::ApiErrorFromStatus(openai::StatusForFinish(ToApi(*ev.finish), ev.error));
      ex_->Write(openai::SseErrorEvent(e));
      return;
    }
    if (ev.text.empty() && !ev.finish && lps.empty() && c.role_sent) return;
    openai::Choice delta;
    delta.index = ev.index;
    delta.text = ev.text;
    delta.finish = ev.finish ? std::optional(ToApi(*ev.finish)) : std::nullopt;
    if (p_.common.sampling.logprobs) delta.logprobs = std::move(lps);
    const bool usage = p_.common.include_usage;
    if (p_.endpoint == Endpoint::kChat) {
      ex_->Write(openai::SseEvent(openai::FormatChatChunk(meta_, delta, !c.role_sent, usage)));
      c.role_sent = true;
    } else {
      ex_->Write(openai::SseEvent(openai::FormatCompletionChunk(meta_, delta, usage)));
    }
  }

  void Finish(const engine::RequestSummary& s) {
    done_ = true;
    handle_.stream->SetNotifier(nullptr);  // drops the notifier's reference to this call
    server_.in_flight().fetch_sub(1);
    openai::Usage usage{s.prompt_tokens, s.completion_tokens, s.cached_prompt_tokens};
    std::string reason = "stop";
    for (const ChoiceState& c : choices_) {
      if (c.choice.finish) reason = std::string(openai::FinishReasonString(*c.choice.finish));
    }
    server_.metrics().RecordRequest(s, reason);
    int status = 200;
    if (p_.common.stream) {
      if (usage_wanted())
        ex_->Write(openai::SseEvent(openai::FormatUsageChunk(p_.endpoint, meta_, usage)));
      ex_->Write(std::string(openai::SseDone()));
      ex_->End();
    } else {
      status = RespondWhole(usage);
    }
    AccessLog(s, status, reason);
  }

  bool usage_wanted() const { return p_.common.include_usage; }

  int RespondWhole(const openai::Usage& usage) {
    std::vector<openai::Choice> out;
    for (ChoiceState& c : choices_) {
      if (c.choice.finish && (*c.choice.finish == openai::FinishReason::kError ||
                              *c.choice.finish == openai::FinishReason::kExpired)) {
        absl::Status st = openai::StatusForFinish(*c.choice.finish, c.error);
        server_.RespondError(*ex_, st);
        return openai::ApiErrorFromStatus(st).http_status;
      }
      if (p_.common.sampling.logprobs) c.choice.logprobs = std::move(c.logprobs);
      out.push_back(std::move(c.choice));
    }
    if (ex_->closed()) return 499;
    ex_->Respond(200, "application/json",
                 p_.endpoint == Endpoint::kChat ? openai::FormatChatCompletion(meta_, out, usage)
                                                : openai::FormatCompletion(meta_, out, usage));
    return 200;
  }

  void AccessLog(const engine::RequestSummary& s, int status, const std::string& reason) {
    base::AccessLog(absl::StrCat(
        "{\"type\":\"access\",\"id\":\"", meta_.id, "\",\"tenant\":\"",
        base::JsonEscape(p_.common.user), "\",\"model\":\"", base::JsonEscape(meta_.model),
        "\",\"endpoint\":\"", p_.endpoint == Endpoint::kChat ? "chat" : "completions",
        "\",\"status\":", ex_->closed() && status == 200 ? 499 : status,
        ",\"stream\":", p_.common.stream ? "true" : "false", ",\"prompt_tokens\":", s.prompt_tokens,
        ",\"completion_tokens\":", s.completion_tokens,
        ",\"cached_tokens\":", s.cached_prompt_tokens,
        ",\"queue_ms\":", static_cast<int64_t>(base::ToMillis(s.queue_time)), ",\"ttft_ms\":",
        static_cast<int64_t>(base::ToMillis(s.time_to_first_token)), ",\"total_ms\":",
        static_cast<int64_t>(base::ToMillis(base::Clock::System().Now() - start_)),
        ",\"finish_reason\":\"", reason, "\"}"));
  }

  ApiServer& server_;
  std::shared_ptr<http::Exchange> ex_;
  Prepared p_;
  engine::RequestHandle handle_;
  openai::ResponseMeta meta_;
  std::vector<ChoiceState> choices_;
  base::TimePoint start_;
  bool done_ = false;
};

uint64_t TenantSalt(const http::Exchange& ex) {
  std::optional<std::string> auth = ex.request().Header("authorization");
  return auth ? std::hash<std::string>()(*auth) | 1 : 0;
}

// Turns a prepared request into an engine request and starts relaying.
void Submit(ApiServer& server, std::shared_ptr<http::Exchange> ex, Prepared p) {
  engine::Engine& engine = server.engine();
  const openai::SamplingOptions& so = p.common.sampling;
  engine::GenerationRequest r;
  const int64_t room = engine.max_context() - static_cast<int64_t>(p.prompt.size());
  r.max_tokens = so.max_tokens
                     ? *so.max_tokens
                     : static_cast<int32_t>(std::max<int64_t>(
                           1, p.endpoint == Endpoint::kChat ? room : std::min<int64_t>(16, room)));
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
  r.priority = p.common.priority;
  r.salt = TenantSalt(*ex);
  if (server.options().queue_timeout) r.queue_timeout = *server.options().queue_timeout;
  r.prompt = p.prompt;

  absl::StatusOr<engine::RequestHandle> h = engine.Submit(std::move(r));
  if (!h.ok()) {
    absl::Status st = h.status();
    if (st.code() == absl::StatusCode::kInvalidArgument &&
        absl::string_view(st.message()).find("context") != absl::string_view::npos) {
      st = openai::WithParam(openai::WithErrorCode(st, "context_length_exceeded"), p.prompt_param);
    }
    if (st.code() == absl::StatusCode::kResourceExhausted)
      server.metrics().RecordRejection("queue_full");
    if (st.code() == absl::StatusCode::kUnavailable)
      server.metrics().RecordRejection("unavailable");
    return server.RespondError(*ex, st);
  }
  server.in_flight().fetch_add(1);
  auto call = std::make_shared<GenerationCall>(server, std::move(ex), std::move(p), *std::move(h));
  call->Begin();
}

absl::Status CheckModel(const ApiServer& server, const std::string& model) {
  if (model == server.options().model_name) return absl::OkStatus();
  return openai::WithParam(
      openai::WithErrorCode(absl::NotFoundError(absl::StrCat("the model '", model,
                                                             "' does not exist; this server has '",
                                                             server.options().model_name, "'")),
                            "model_not_found"),
      "model");
}

}  // namespace

void HandleCompletion(ApiServer& server, std::shared_ptr<http::Exchange> ex) {
  absl::StatusOr<openai::CompletionRequest> req =
      openai::ParseCompletionRequest(ex->request().body, server.options().limits);
  if (!req.ok()) return server.RespondError(*ex, req.status());
  if (absl::Status s = CheckModel(server, req->model); !s.ok()) return server.RespondError(*ex, s);
  Prepared p;
  p.endpoint = Endpoint::kCompletion;
  p.common = *req;
  const engine::model::Tokenizer& tok = server.engine().model().tokenizer();
  if (const auto* text = std::get_if<std::string>(&req->prompt)) {
    p.prompt = tok.Encode(*text, /*add_special=*/true, /*parse_special=*/true);
  } else {
    p.prompt = std::get<std::vector<int32_t>>(req->prompt);
  }
  if (p.prompt.empty()) {
    return server.RespondError(
        *ex, openai::WithParam(absl::InvalidArgumentError("the prompt is empty"), "prompt"));
  }
  Submit(server, std::move(ex), std::move(p));
}

void HandleChat(ApiServer& server, std::shared_ptr<http::Exchange> ex) {
  absl::StatusOr<openai::ChatRequest> req =
      openai::ParseChatRequest(ex->request().body, server.options().limits);
  if (!req.ok()) return server.RespondError(*ex, req.status());
  if (absl::Status s = CheckModel(server, req->model); !s.ok()) return server.RespondError(*ex, s);
  const engine::model::Tokenizer& tok = server.engine().model().tokenizer();
  std::vector<engine::model::ChatMessage> msgs;
  for (const openai::ChatMessage& m : req->messages) {
    msgs.push_back({std::string(openai::RoleName(m.role)), m.content});
  }
  const auto& vocab = tok.vocab();
  const std::string bos = vocab.add_bos && vocab.bos_id >= 0 ? vocab.tokens[vocab.bos_id] : "";
  const std::string eos = vocab.eos_id >= 0 ? vocab.tokens[vocab.eos_id] : "";
  absl::StatusOr<std::vector<engine::model::ChatPiece>> pieces = engine::model::RenderChatPieces(
      server.chat_template(), msgs, req->add_generation_prompt, bos, eos);
  if (!pieces.ok()) {
    return server.RespondError(*ex, openai::WithParam(pieces.status(), "messages"));
  }
  Prepared p;
  p.endpoint = Endpoint::kChat;
  p.common = *req;
  p.prompt_param = "messages";
  // Template text may carry control tokens; message content never does.
  std::vector<engine::model::Tokenizer::TextPiece> text;
  for (const engine::model::ChatPiece& piece : *pieces)
    text.push_back({piece.text, !piece.is_content});
  p.prompt = tok.EncodePieces(text, /*add_special=*/false);
  Submit(server, std::move(ex), std::move(p));
}

}  // namespace surge::server
