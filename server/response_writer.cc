#include "server/response_writer.h"

#include "server/api_server.h"
#include "server/openai/errors.h"

namespace surge::server {
namespace {

bool Failed(const std::optional<openai::FinishReason>& f) {
  return f && (*f == openai::FinishReason::kError || *f == openai::FinishReason::kExpired);
}

}  // namespace

ResponseWriter::ResponseWriter(ApiServer& server, std::shared_ptr<http::Exchange> ex,
                               openai::Endpoint endpoint, const openai::CommonRequest& request,
                               openai::ResponseMeta meta, bool record)
    : server_(server),
      ex_(std::move(ex)),
      endpoint_(endpoint),
      stream_(request.stream),
      include_usage_(request.include_usage),
      logprobs_(request.sampling.logprobs),
      meta_(std::move(meta)),
      choices_(static_cast<size_t>(request.sampling.n)),
      record_(record) {
  for (size_t i = 0; i < choices_.size(); ++i) choices_[i].choice.index = static_cast<int32_t>(i);
}

void ResponseWriter::Start() {
  if (stream_) ex_->StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
}

void ResponseWriter::Delta(openai::Choice delta, const std::string& error) {
  if (delta.index < 0 || delta.index >= static_cast<int32_t>(choices_.size())) return;
  ChoiceState& c = choices_[static_cast<size_t>(delta.index)];
  const bool has_logprobs = delta.logprobs && !delta.logprobs->empty();
  if (record_ && (!delta.text.empty() || delta.finish || has_logprobs)) recorded_.push_back(delta);
  if (delta.finish) {
    c.choice.finish = delta.finish;
    c.error = error;
  }
  if (!stream_) {
    c.choice.text += delta.text;
    if (has_logprobs) {
      c.logprobs.insert(c.logprobs.end(), delta.logprobs->begin(), delta.logprobs->end());
    }
    return;
  }
  if (Failed(delta.finish)) {
    ex_->Write(openai::SseErrorEvent(
        openai::ApiErrorFromStatus(openai::StatusForFinish(*delta.finish, error))));
    return;
  }
  if (delta.text.empty() && !delta.finish && !has_logprobs && c.role_sent) return;
  WriteChunk(std::move(delta), c);
}

void ResponseWriter::WriteChunk(openai::Choice delta, ChoiceState& c) {
  if (!logprobs_) delta.logprobs.reset();
  if (endpoint_ == openai::Endpoint::kChat) {
    ex_->Write(
        openai::SseEvent(openai::FormatChatChunk(meta_, delta, !c.role_sent, include_usage_)));
    c.role_sent = true;
  } else {
    ex_->Write(openai::SseEvent(openai::FormatCompletionChunk(meta_, delta, include_usage_)));
  }
}

int ResponseWriter::Finish(const openai::Usage& usage) {
  if (!stream_) return RespondWhole(usage);
  if (include_usage_) {
    ex_->Write(openai::SseEvent(openai::FormatUsageChunk(endpoint_, meta_, usage)));
  }
  ex_->Write(std::string(openai::SseDone()));
  ex_->End();
  return ex_->closed() ? 499 : 200;
}

int ResponseWriter::RespondWhole(const openai::Usage& usage) {
  std::vector<openai::Choice> out;
  for (ChoiceState& c : choices_) {
    if (Failed(c.choice.finish)) {
      absl::Status st = openai::StatusForFinish(*c.choice.finish, c.error);
      server_.RespondError(*ex_, st);
      return openai::ApiErrorFromStatus(st).http_status;
    }
    if (logprobs_) c.choice.logprobs = std::move(c.logprobs);
    out.push_back(std::move(c.choice));
  }
  if (ex_->closed()) return 499;
  ex_->Respond(200, "application/json",
               endpoint_ == openai::Endpoint::kChat
                   ? openai::FormatChatCompletion(meta_, out, usage)
                   : openai::FormatCompletion(meta_, out, usage));
  return 200;
}

std::shared_ptr<CachedResponse> ResponseWriter::Recording(int32_t prompt_tokens,
                                                          int32_t completion_tokens) {
  if (!record_) return nullptr;
  for (const ChoiceState& c : choices_) {
    if (!c.choice.finish || (*c.choice.finish != openai::FinishReason::kStop &&
                             *c.choice.finish != openai::FinishReason::kLength)) {
      return nullptr;
    }
  }
  auto r = std::make_shared<CachedResponse>();
  r->deltas = std::move(recorded_);
  r->prompt_tokens = prompt_tokens;
  r->completion_tokens = completion_tokens;
  return r;
}

std::string ResponseWriter::finish_reason() const {
  std::string reason = "stop";
  for (const ChoiceState& c : choices_) {
    if (c.choice.finish) reason = std::string(openai::FinishReasonString(*c.choice.finish));
  }
  return reason;
}

}  // namespace surge::server
