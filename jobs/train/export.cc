#include "jobs/train/export.h"

#include <cstring>
#include <vector>

#include "engine/model/vocab_gguf.h"

namespace surge::jobs::train {
namespace {

using engine::model::GgufWriter;

constexpr char kArch[] = "llama";

void SetHyperParameters(const ModelShape& s, const std::string& name, GgufWriter& w) {
  const std::string a = kArch;
  w.SetString("general.architecture", a);
  w.SetString("general.name", name);
  w.SetUint32("general.file_type", 0);  // all f32
  w.SetUint32("general.quantization_version", 2);
  w.SetUint32("general.alignment", engine::model::kGgufDefaultAlignment);
  w.SetUint32(a + ".context_length", static_cast<uint32_t>(s.n_ctx));
  w.SetUint32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
  w.SetUint32(a + ".block_count", static_cast<uint32_t>(s.n_layers));
  w.SetUint32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.SetUint32(a + ".attention.head_count", static_cast<uint32_t>(s.n_heads));
  w.SetUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_kv_heads));
  w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", s.rms_eps);
  w.SetFloat32(a + ".rope.freq_base", s.rope_freq_base);
  w.SetUint32(a + ".rope.dimension_count", static_cast<uint32_t>(s.head_dim()));
  w.SetUint32(a + ".vocab_size", static_cast<uint32_t>(s.n_vocab));
}

}  // namespace

absl::Status AddF32Tensor(GgufWriter& writer, const std::string& name, int64_t rows, int64_t cols,
                          const float* data) {
  std::vector<int64_t> dims = rows == 1 ? std::vector<int64_t>{cols} : std::vector{cols, rows};
  const size_t bytes = static_cast<size_t>(rows * cols) * sizeof(float);
  return writer.AddTensorFn(name, std::move(dims), engine::kernels::DType::kF32,
                            [data, bytes](std::span<uint8_t> out) {
                              if (out.size() != bytes) {
                                return absl::InternalError("tensor size mismatch");
                              }
                              std::memcpy(out.data(), data, bytes);
                              return absl::OkStatus();
                            });
}

absl::Status AddModel(const TrainModel& model, const engine::model::Vocab& vocab,
                      const std::string& name, GgufWriter& writer) {
  if (static_cast<int32_t>(vocab.tokens.size()) != model.shape().n_vocab) {
    return absl::InvalidArgumentError("export: vocabulary and model sizes differ");
  }
  SetHyperParameters(model.shape(), name, writer);
  engine::model::WriteVocab(vocab, writer);
  const ParamStore& params = model.params();
  for (int id = 0; id < static_cast<int>(params.infos().size()); ++id) {
    const ParamInfo& p = params.info(id);
    SURGE_RETURN_IF_ERROR(AddF32Tensor(writer, p.name, p.rows, p.cols, params.value(id)));
  }
  return absl::OkStatus();
}

absl::Status ExportGguf(const TrainModel& model, const engine::model::Vocab& vocab,
                        const std::string& name, const std::string& path) {
  GgufWriter writer;
  SURGE_RETURN_IF_ERROR(AddModel(model, vocab, name, writer));
  return writer.WriteFile(path);
}

}  // namespace surge::jobs::train
