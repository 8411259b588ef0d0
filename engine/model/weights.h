// ModelWeights binds a GGUF file's tensors to the slots of the forward pass,
// checking every name, shape and type against the ModelConfig. Matrices point
// straight into the memory-mapped file (nothing is copied); small 1-D tensors
// (norms, biases) stored as f16/bf16 are widened to f32 into owned storage.
//
// A GGUF matrix with dims [cols, rows] (innermost first) is a kernels::Matrix
// of `rows` rows: y = W x maps cols inputs to rows outputs.
//
// Ownership: borrows the GgufFile, which must outlive it.
// Thread safety: immutable after Bind().
// Errors: a missing tensor, a wrong shape or an unsupported type is an
// InvalidArgument/Unimplemented status naming the tensor.
#pragma once

#include <memory>
#include <vector>

#include "base/status.h"
#include "engine/kernels/ops.h"
#include "engine/model/model_config.h"

namespace surge::engine::model {

class GgufFile;

struct LayerWeights {
  const float* attn_norm = nullptr;
  kernels::Matrix wq, wk, wv, wo;
  const float* bq = nullptr;  // qwen2 only
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* q_norm = nullptr;  // qwen3 only, head_dim floats
  const float* k_norm = nullptr;
  const float* ffn_norm = nullptr;
  kernels::Matrix w_gate, w_up, w_down;
};

class ModelWeights {
 public:
  static absl::StatusOr<std::unique_ptr<ModelWeights>> Bind(const GgufFile& file,
                                                            const ModelConfig& config);

  const kernels::Matrix& token_embd() const { return token_embd_; }
  const kernels::Matrix& output() const { return output_; }  // token_embd when tied
  const float* output_norm() const { return output_norm_; }
  const LayerWeights& layer(int i) const { return layers_[i]; }
  bool tied_embeddings() const { return tied_; }
  // Bytes of all matrices in the file.
  int64_t matrix_bytes() const { return matrix_bytes_; }
  // Bytes one decode step streams from memory: every matrix but the embedding
  // table, of which it reads one row (unless the table is also the output).
  int64_t decode_bytes() const { return tied_ ? matrix_bytes_ : matrix_bytes_ - embd_bytes_; }

 private:
  ModelWeights() = default;
  absl::StatusOr<kernels::Matrix> BindMatrix(const GgufFile& file, const std::string& name,
                                             int64_t cols, int64_t rows);
  absl::StatusOr<const float*> BindVector(const GgufFile& file, const std::string& name, int64_t n);

  kernels::Matrix token_embd_, output_;
  const float* output_norm_ = nullptr;
  std::vector<LayerWeights> layers_;
  bool tied_ = false;
  int64_t matrix_bytes_ = 0;
  int64_t embd_bytes_ = 0;
  std::vector<std::unique_ptr<float[]>> widened_;  // 1-D tensors converted to f32
};

}  // namespace surge::engine::model
