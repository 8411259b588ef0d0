// Writing a TrainModel as a GGUF file that the engine (Model::Load) and
// llama.cpp load: general.architecture "llama", the llama.* hyper-parameter
// keys and tensor names that engine/model/model_init.cc writes, the trained
// tokenizer (tokenizer.ggml.*), and every weight as f32 (quantize afterwards
// with `surge model quantize`). Tied embeddings: no output.weight tensor.
//
// Checkpoints use the same writer and add their own keys and tensors.
// Thread safety: functions of their arguments; the model must not change
// until WriteFile() returns.
// Errors: I/O errors from writing; the destination is replaced atomically
// (GgufWriter writes a temporary file and renames it).
#pragma once

#include <string>

#include "base/status.h"
#include "engine/model/gguf_writer.h"
#include "engine/model/vocab.h"
#include "jobs/train/train_model.h"

namespace surge::jobs::train {

// Metadata, tokenizer and weights, ready for WriteFile(). The writer reads
// the weights from `model` while it writes.
[[nodiscard]] absl::Status AddModel(const TrainModel& model, const engine::model::Vocab& vocab,
                                    const std::string& name, engine::model::GgufWriter& writer);

[[nodiscard]] absl::Status ExportGguf(const TrainModel& model, const engine::model::Vocab& vocab,
                                      const std::string& name, const std::string& path);

// Adds an f32 tensor of `rows` x `cols` whose bytes are read from `data`
// when the file is written.
[[nodiscard]] absl::Status AddF32Tensor(engine::model::GgufWriter& writer, const std::string& name,
                                        int64_t rows, int64_t cols, const float* data);

}  // namespace surge::jobs::train
