#include "engine/model/weights.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/kernels/quantize.h"
#include "engine/model/gguf_reader.h"

namespace surge::engine::model {
namespace {

std::string DimsString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

}  // namespace

absl::StatusOr<kernels::Matrix> ModelWeights::BindMatrix(const GgufFile& file,
                                                         const std::string& name, int64_t cols,
                                                         int64_t rows) {
  const GgufTensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("model: missing tensor ", name));
  if (t->dims.size() != 2 || t->dims[0] != cols || t->dims[1] != rows) {
    return absl::InvalidArgumentError(absl::StrCat("model: tensor ", name, " has shape ",
                                                   DimsString(t->dims), ", expected [", cols, ", ",
                                                   rows, "]"));
  }
  if (kernels::Traits(t->type).block_size > 1 && cols % kernels::kQK != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model: tensor ", name, " is quantized but its rows are not whole blocks"));
  }
  matrix_bytes_ += static_cast<int64_t>(t->size_bytes);
  return kernels::Matrix{t->type, file.TensorData(*t), rows, cols};
}

absl::StatusOr<const float*> ModelWeights::BindVector(const GgufFile& file, const std::string& name,
                                                      int64_t n) {
  const GgufTensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("model: missing tensor ", name));
  if (t->num_elements != n || t->dims[0] != n) {
    return absl::InvalidArgumentError(absl::StrCat("model: tensor ", name, " has shape ",
                                                   DimsString(t->dims), ", expected [", n, "]"));
  }
  const uint8_t* data = file.TensorData(*t);
  if (t->type == kernels::DType::kF32 && reinterpret_cast<uintptr_t>(data) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(data);
  }
  if (kernels::Traits(t->type).block_size > 1 && n % kernels::kQK != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model: tensor ", name, " has bad size"));
  }
  auto widened = std::make_unique<float[]>(n);
  kernels::DequantizeRow(t->type, data, n, widened.get());
  widened_.push_back(std::move(widened));
  return widened_.back().get();
}

absl::StatusOr<std::unique_ptr<ModelWeights>> ModelWeights::Bind(const GgufFile& file,
                                                                 const ModelConfig& c) {
  std::unique_ptr<ModelWeights> w(new ModelWeights());
  SURGE_ASSIGN_OR_RETURN(w->token_embd_,
                         w->BindMatrix(file, "token_embd.weight", c.n_embd, c.n_vocab));
  w->embd_bytes_ = w->matrix_bytes_;
  SURGE_ASSIGN_OR_RETURN(w->output_norm_, w->BindVector(file, "output_norm.weight", c.n_embd));
  if (file.FindTensor("output.weight") != nullptr) {
    SURGE_ASSIGN_OR_RETURN(w->output_, w->BindMatrix(file, "output.weight", c.n_embd, c.n_vocab));
  } else {
    w->output_ = w->token_embd_;
    w->tied_ = true;
  }
  w->layers_.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w->layers_[i];
    const std::string p = absl::StrCat("blk.", i, ".");
    SURGE_ASSIGN_OR_RETURN(l.attn_norm, w->BindVector(file, p + "attn_norm.weight", c.n_embd));
    SURGE_ASSIGN_OR_RETURN(l.wq, w->BindMatrix(file, p + "attn_q.weight", c.n_embd, c.q_dim()));
    SURGE_ASSIGN_OR_RETURN(l.wk, w->BindMatrix(file, p + "attn_k.weight", c.n_embd, c.kv_dim()));
    SURGE_ASSIGN_OR_RETURN(l.wv, w->BindMatrix(file, p + "attn_v.weight", c.n_embd, c.kv_dim()));
    SURGE_ASSIGN_OR_RETURN(l.wo,
                           w->BindMatrix(file, p + "attn_output.weight", c.q_dim(), c.n_embd));
    if (c.arch.qkv_bias) {
      SURGE_ASSIGN_OR_RETURN(l.bq, w->BindVector(file, p + "attn_q.bias", c.q_dim()));
      SURGE_ASSIGN_OR_RETURN(l.bk, w->BindVector(file, p + "attn_k.bias", c.kv_dim()));
      SURGE_ASSIGN_OR_RETURN(l.bv, w->BindVector(file, p + "attn_v.bias", c.kv_dim()));
    }
    if (c.arch.qk_norm) {
      SURGE_ASSIGN_OR_RETURN(l.q_norm, w->BindVector(file, p + "attn_q_norm.weight", c.head_dim));
      SURGE_ASSIGN_OR_RETURN(l.k_norm, w->BindVector(file, p + "attn_k_norm.weight", c.head_dim));
    }
    SURGE_ASSIGN_OR_RETURN(l.ffn_norm, w->BindVector(file, p + "ffn_norm.weight", c.n_embd));
    SURGE_ASSIGN_OR_RETURN(l.w_gate, w->BindMatrix(file, p + "ffn_gate.weight", c.n_embd, c.n_ff));
    SURGE_ASSIGN_OR_RETURN(l.w_up, w->BindMatrix(file, p + "ffn_up.weight", c.n_embd, c.n_ff));
    SURGE_ASSIGN_OR_RETURN(l.w_down, w->BindMatrix(file, p + "ffn_down.weight", c.n_ff, c.n_embd));
  }
  return w;
}

}  // namespace surge::engine::model
