#include "server/api_server.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/openai/errors.h"
#include "server/openai/format.h"
#include "server/openai/parse.h"

namespace surge::server {

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Create(engine::Engine& engine,
                                                             ApiOptions options) {
  std::unique_ptr<ApiServer> s(new ApiServer(engine, std::move(options)));
  const engine::model::Model& model = engine.model();
  if (s->options_.model_name.empty()) s->options_.model_name = model.name();
  if (!s->options_.chat_template.empty()) {
    auto kind = engine::model::ChatTemplateFromName(s->options_.chat_template);
    if (!kind) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown --chat-template '", s->options_.chat_template,
                       "' (known: chatml, llama2, llama3, mistral, gemma, phi3, zephyr)"));
    }
    s->chat_template_ = *kind;
  } else if (absl::StatusOr<std::string> src = model.file().GetString("tokenizer.chat_template");
             src.ok()) {
    s->chat_template_ =
        engine::model::DetectChatTemplate(*src).value_or(engine::model::ChatTemplateKind::kChatML);
  }
  s->metrics_ = std::make_unique<ServerMetrics>(engine, s->options_.model_name);
  s->http_ = std::make_unique<http::HttpServer>(s->options_.http);
  s->Routes();
  return s;
}

ApiServer::ApiServer(engine::Engine& engine, ApiOptions options)
    : engine_(engine), options_(std::move(options)), created_(std::time(nullptr)) {}

ApiServer::~ApiServer() { Stop(); }

absl::Status ApiServer::Start() { return http_->Start(); }

void ApiServer::BeginDrain() {
  draining_ = true;
  http_->StopAccepting();
}

void ApiServer::Stop() {
  if (http_) http_->Stop();
}

std::string ApiServer::NextId(const char* prefix) {
  return absl::StrCat(prefix, "-", created_, "-", next_id_.fetch_add(1));
}

void ApiServer::RespondError(http::Exchange& ex, const absl::Status& status) {
  openai::ApiError e = openai::ApiErrorFromStatus(status);
  metrics_->RecordHttpError(e.http_status);
  http::Headers headers;
  if (e.retry_after_seconds)
    headers.emplace_back("Retry-After", std::to_string(*e.retry_after_seconds));
  ex.Respond(e.http_status, "application/json", openai::ErrorBody(e), std::move(headers));
}

http::Handler ApiServer::Guard(http::Handler h) {
  return [this, h = std::move(h)](std::shared_ptr<http::Exchange> ex) {
    if (!options_.api_keys.empty()) {
      std::optional<std::string> auth = ex->request().Header("authorization");
      bool ok = false;
      for (const std::string& key : options_.api_keys) {
        if (auth && *auth == "Bearer " + key) ok = true;
      }
      if (!ok) {
        RespondError(*ex, absl::UnauthenticatedError(
                              auth ? "invalid API key"
                                   : "missing API key: send 'Authorization: Bearer KEY'"));
        return;
      }
    }
    h(std::move(ex));
  };
}

void ApiServer::Routes() {
  http_->Route("GET", "/health", [this](auto ex) { Health(std::move(ex)); });
  http_->Route("GET", "/metrics", [this](auto ex) {
    ex->Respond(200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Render());
  });
  http_->Route("GET", "/v1/models", Guard([this](auto ex) { Models(std::move(ex)); }));
  http_->Route("POST", "/tokenize", Guard([this](auto ex) { Tokenize(std::move(ex)); }));
  http_->Route("POST", "/detokenize", Guard([this](auto ex) { Detokenize(std::move(ex)); }));
  http_->Route("POST", "/v1/completions",
               Guard([this](auto ex) { HandleCompletion(*this, std::move(ex)); }));
  http_->Route("POST", "/v1/chat/completions",
               Guard([this](auto ex) { HandleChat(*this, std::move(ex)); }));
}

void ApiServer::Health(std::shared_ptr<http::Exchange> ex) {
  if (draining_) {
    ex->Respond(503, "application/json", R"({"status":"draining"})");
  } else {
    ex->Respond(200, "application/json", R"({"status":"ok"})");
  }
}

void ApiServer::Models(std::shared_ptr<http::Exchange> ex) {
  openai::ModelCard card;
  card.id = options_.model_name;
  card.created = created_;
  card.max_model_len = engine_.max_context();
  ex->Respond(200, "application/json", openai::FormatModelList({&card, 1}));
}

void ApiServer::Tokenize(std::shared_ptr<http::Exchange> ex) {
  absl::StatusOr<openai::TokenizeRequest> req =
      openai::ParseTokenizeRequest(ex->request().body, options_.limits);
  if (!req.ok()) return RespondError(*ex, req.status());
  if (!req->model.empty() && req->model != options_.model_name) {
    return RespondError(
        *ex, openai::WithErrorCode(
                 absl::NotFoundError(absl::StrCat("the model '", req->model, "' does not exist")),
                 "model_not_found"));
  }
  const engine::model::Tokenizer& tok = engine_.model().tokenizer();
  std::vector<int32_t> ids;
  if (req->text) {
    ids = tok.Encode(*req->text, req->add_special, /*parse_special=*/true);
  } else {
    std::vector<engine::model::ChatMessage> msgs;
    for (const openai::ChatMessage& m : req->messages) {
      msgs.push_back({std::string(openai::RoleName(m.role)), m.content});
    }
    absl::StatusOr<std::vector<engine::model::ChatPiece>> pieces =
        engine::model::RenderChatPieces(chat_template_, msgs, req->add_generation_prompt, "", "");
    if (!pieces.ok()) return RespondError(*ex, pieces.status());
    std::vector<engine::model::Tokenizer::TextPiece> text;
    for (const auto& p : *pieces) text.push_back({p.text, !p.is_content});
    ids = tok.EncodePieces(text, /*add_special=*/false);
  }
  ex->Respond(200, "application/json", openai::FormatTokenizeResponse(ids, engine_.max_context()));
}

void ApiServer::Detokenize(std::shared_ptr<http::Exchange> ex) {
  absl::StatusOr<openai::DetokenizeRequest> req =
      openai::ParseDetokenizeRequest(ex->request().body, options_.limits);
  if (!req.ok()) return RespondError(*ex, req.status());
  const engine::model::Tokenizer& tok = engine_.model().tokenizer();
  for (int32_t t : req->tokens) {
    if (t < 0 || t >= tok.vocab_size()) {
      return RespondError(
          *ex, openai::WithParam(
                   absl::InvalidArgumentError(absl::StrCat(
                       "token id ", t, " is outside the vocabulary (size ", tok.vocab_size(), ")")),
                   "tokens"));
    }
  }
  ex->Respond(200, "application/json", openai::FormatDetokenizeResponse(tok.Decode(req->tokens)));
}

}  // namespace surge::server
