// Model is one loaded GGUF model: the memory-mapped file, its config, the
// weights bound into it and its tokenizer. Loading validates everything a
// forward pass relies on, so the runner never checks input again.
//
// Ownership: owns the GgufFile; the weights point into its mapping.
// Thread safety: immutable after Load(); shared by the engine loop and the
// I/O threads (tokenization).
// Errors: a file that is not a usable model gives a status naming the file
// and the reason.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/model_config.h"
#include "engine/model/tokenizer.h"
#include "engine/model/weights.h"

namespace surge::engine::model {

class Model {
 public:
  static absl::StatusOr<std::unique_ptr<Model>> Load(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }  // general.name or the file stem
  const GgufFile& file() const { return *file_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return *weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  Model() = default;

  std::string path_;
  std::string name_;
  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  std::unique_ptr<ModelWeights> weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

}  // namespace surge::engine::model
