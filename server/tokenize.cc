// POST /tokenize and /detokenize, with the model's tokenizer (the model is
// leased, and loaded if needed, like for a generation).
#include "absl/strings/str_cat.h"
#include "server/api_server.h"
#include "server/chat_prompt.h"
#include "server/openai/errors.h"
#include "server/openai/format.h"
#include "server/openai/parse.h"

namespace surge::server {
namespace {

absl::Status UnknownModel(const std::string& model) {
  return openai::WithParam(openai::WithErrorCode(absl::NotFoundError(absl::StrCat(
                                                     "the model '", model, "' does not exist")),
                                                 "model_not_found"),
                           "model");
}

void Tokenize(ApiServer& server, http::Exchange& ex, const openai::TokenizeRequest& req,
              const ModelLease& lease) {
  const engine::model::Tokenizer& tok = lease.engine().model().tokenizer();
  std::vector<int32_t> ids;
  if (req.text) {
    ids = tok.Encode(*req.text, req.add_special, /*parse_special=*/true);
  } else {
    std::vector<engine::model::ChatMessage> msgs;
    for (const openai::ChatMessage& m : req.messages) {
      msgs.push_back({std::string(openai::RoleName(m.role)), m.content});
    }
    absl::StatusOr<std::vector<int32_t>> chat = EncodeChat(
        tok, lease.model().chat_template, msgs, req.add_generation_prompt, req.add_special);
    if (!chat.ok()) return server.RespondError(ex, chat.status());
    ids = *std::move(chat);
  }
  ex.Respond(200, "application/json",
             openai::FormatTokenizeResponse(ids, lease.engine().max_context()));
}

void Detokenize(ApiServer& server, http::Exchange& ex, const openai::DetokenizeRequest& req,
                const ModelLease& lease) {
  const engine::model::Tokenizer& tok = lease.engine().model().tokenizer();
  for (int32_t t : req.tokens) {
    if (t < 0 || t >= tok.vocab_size()) {
      return server.RespondError(
          ex, openai::WithParam(
                  absl::InvalidArgumentError(absl::StrCat(
                      "token id ", t, " is outside the vocabulary (size ", tok.vocab_size(), ")")),
                  "tokens"));
    }
  }
  ex.Respond(200, "application/json", openai::FormatDetokenizeResponse(tok.Decode(req.tokens)));
}

}  // namespace

void HandleTokenize(ApiServer& server, std::shared_ptr<http::Exchange> ex) {
  absl::StatusOr<openai::TokenizeRequest> req =
      openai::ParseTokenizeRequest(ex->request().body, server.options().limits);
  if (!req.ok()) return server.RespondError(*ex, req.status());
  const std::string model = req->model.empty() ? server.registry().default_model() : req->model;
  if (!server.registry().Contains(model)) return server.RespondError(*ex, UnknownModel(model));
  auto r = std::make_shared<openai::TokenizeRequest>(*std::move(req));
  server.WithModel(ex, model, std::nullopt, [&server, ex, r](std::shared_ptr<ModelLease> lease) {
    Tokenize(server, *ex, *r, *lease);
  });
}

void HandleDetokenize(ApiServer& server, std::shared_ptr<http::Exchange> ex) {
  absl::StatusOr<openai::DetokenizeRequest> req =
      openai::ParseDetokenizeRequest(ex->request().body, server.options().limits);
  if (!req.ok()) return server.RespondError(*ex, req.status());
  const std::string model = req->model.empty() ? server.registry().default_model() : req->model;
  if (!server.registry().Contains(model)) return server.RespondError(*ex, UnknownModel(model));
  auto r = std::make_shared<openai::DetokenizeRequest>(*std::move(req));
  server.WithModel(ex, model, std::nullopt, [&server, ex, r](std::shared_ptr<ModelLease> lease) {
    Detokenize(server, *ex, *r, *lease);
  });
}

}  // namespace surge::server
