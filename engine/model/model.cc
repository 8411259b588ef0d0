#include "engine/model/model.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/model/vocab_gguf.h"

namespace surge::engine::model {
namespace {

absl::Status Annotate(const absl::Status& s, const std::string& path) {
  return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  if (!file.ok()) return Annotate(file.status(), path);
  m->file_ = *std::move(file);

  absl::StatusOr<ModelConfig> config = ReadModelConfig(*m->file_);
  if (!config.ok()) return Annotate(config.status(), path);
  m->config_ = *config;

  absl::StatusOr<std::unique_ptr<ModelWeights>> weights = ModelWeights::Bind(*m->file_, m->config_);
  if (!weights.ok()) return Annotate(weights.status(), path);
  m->weights_ = *std::move(weights);

  absl::StatusOr<Vocab> vocab = ReadVocab(*m->file_);
  if (!vocab.ok()) return Annotate(vocab.status(), path);
  if (static_cast<int32_t>(vocab->tokens.size()) != m->config_.n_vocab) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tokenizer has ", vocab->tokens.size(),
                                                   " tokens but the model ", m->config_.n_vocab));
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Create(*std::move(vocab));
  if (!tok.ok()) return Annotate(tok.status(), path);
  m->tokenizer_ = *std::move(tok);

  absl::StatusOr<std::string> name = m->file_->GetString("general.name");
  m->name_ = name.ok() && !name->empty() ? *name : std::filesystem::path(path).stem().string();
  return m;
}

}  // namespace surge::engine::model
