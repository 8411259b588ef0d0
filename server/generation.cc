// /v1/completions and /v1/chat/completions: parse, admit (model known,
// tenant quotas), answer from the response cache when possible, else lease
// the model (loading it if needed), render and tokenize on the I/O thread and
// start the generation (generation_call.cc).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/api_server.h"
#include "server/chat_prompt.h"
#include "server/generation_call.h"
#include "server/openai/errors.h"
#include "server/openai/parse.h"

namespace surge::server {
namespace {

using openai::Endpoint;

// Checks the model and the tenant's quotas, then looks the request up in
// the response cache. Answers the request itself (error or cached replay)
// and returns false when there is nothing left to do.
template <typename Req>
bool Admit(ApiServer& server, const std::shared_ptr<http::Exchange>& ex, const Req& req,
           GenerationInput& in) {
  if (!server.registry().Contains(req.model)) {
    server.RespondError(
        *ex, openai::WithParam(openai::WithErrorCode(absl::NotFoundError(absl::StrCat(
                                                         "the model '", req.model,
                                                         "' does not exist; see /v1/models")),
                                                     "model_not_found"),
                               "model"));
    return false;
  }
  absl::StatusOr<QuotaTicket> ticket = in.tenant->Admit();
  if (!ticket.ok()) {
    server.metrics().RecordQuotaRejection(in.tenant->metric_label(), QuotaName(ticket.status()));
    server.RespondError(*ex, ticket.status());
    return false;
  }
  in.ticket = std::make_shared<QuotaTicket>(*std::move(ticket));
  in.common = req;
  if (server.response_cache().enabled() && req.session_id.empty()) {
    in.cache_key = ResponseCacheKey(req, in.tenant->name(), server.registry().FileOf(req.model));
    if (in.cache_key) {
      if (std::shared_ptr<const CachedResponse> hit =
              server.response_cache().Lookup(*in.cache_key)) {
        in.ticket.reset();  // a replay runs nothing; free the slot before it answers
        ReplayCached(server, ex, in, *hit);
        return false;
      }
    }
  }
  return true;
}

void TokenizeCompletion(ApiServer& server, std::shared_ptr<http::Exchange> ex,
                        std::shared_ptr<GenerationInput> in, const openai::CompletionRequest& req,
                        std::shared_ptr<ModelLease> lease) {
  const engine::model::Tokenizer& tok = lease->engine().model().tokenizer();
  if (const auto* text = std::get_if<std::string>(&req.prompt)) {
    in->prompt = tok.Encode(*text, /*add_special=*/true, /*parse_special=*/true);
  } else {
    in->prompt = std::get<std::vector<int32_t>>(req.prompt);
  }
  if (in->prompt.empty()) {
    return server.RespondError(
        *ex, openai::WithParam(absl::InvalidArgumentError("the prompt is empty"), "prompt"));
  }
  StartGeneration(server, std::move(ex), std::move(*in), std::move(lease));
}

void TokenizeChat(ApiServer& server, std::shared_ptr<http::Exchange> ex,
                  std::shared_ptr<GenerationInput> in, const openai::ChatRequest& req,
                  std::shared_ptr<ModelLease> lease) {
  std::vector<engine::model::ChatMessage> msgs;
  for (const openai::ChatMessage& m : req.messages) {
    msgs.push_back({std::string(openai::RoleName(m.role)), m.content});
  }
  absl::StatusOr<std::vector<int32_t>> ids =
      EncodeChat(lease->engine().model().tokenizer(), lease->model().chat_template, msgs,
                 req.add_generation_prompt, /*add_special=*/true);
  if (!ids.ok()) return server.RespondError(*ex, openai::WithParam(ids.status(), "messages"));
  in->prompt = *std::move(ids);
  StartGeneration(server, std::move(ex), std::move(*in), std::move(lease));
}

}  // namespace

void HandleCompletion(ApiServer& server, std::shared_ptr<http::Exchange> ex,
                      std::shared_ptr<Tenant> tenant) {
  absl::StatusOr<openai::CompletionRequest> req =
      openai::ParseCompletionRequest(ex->request().body, server.options().limits);
  if (!req.ok()) return server.RespondError(*ex, req.status());
  auto in = std::make_shared<GenerationInput>();
  in->endpoint = Endpoint::kCompletion;
  in->tenant = std::move(tenant);
  if (!Admit(server, ex, *req, *in)) return;
  auto request = std::make_shared<openai::CompletionRequest>(*std::move(req));
  server.WithModel(ex, in->common.model, in->common.keep_alive,
                   [&server, ex, in, request](std::shared_ptr<ModelLease> lease) {
                     TokenizeCompletion(server, ex, in, *request, std::move(lease));
                   });
}

void HandleChat(ApiServer& server, std::shared_ptr<http::Exchange> ex,
                std::shared_ptr<Tenant> tenant) {
  absl::StatusOr<openai::ChatRequest> req =
      openai::ParseChatRequest(ex->request().body, server.options().limits);
  if (!req.ok()) return server.RespondError(*ex, req.status());
  auto in = std::make_shared<GenerationInput>();
  in->endpoint = Endpoint::kChat;
  in->prompt_param = "messages";
  in->tenant = std::move(tenant);
  if (!Admit(server, ex, *req, *in)) return;
  auto request = std::make_shared<openai::ChatRequest>(*std::move(req));
  server.WithModel(ex, in->common.model, in->common.keep_alive,
                   [&server, ex, in, request](std::shared_ptr<ModelLease> lease) {
                     TokenizeChat(server, ex, in, *request, std::move(lease));
                   });
}

}  // namespace surge::server
