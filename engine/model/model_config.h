// ModelConfig: the hyper-parameters of a decoder-only transformer, read from a
// GGUF file's metadata and checked for consistency before any weight is bound.
//
// Architectures live in a registry (architecture.cc): one row per family says
// how it differs from the llama baseline (rope style, QKV bias, Q/K norm).
// An unknown architecture is an error that names it and lists the known ones.
//
// Thread safety: immutable value.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/kernels/ops.h"

namespace surge::engine::model {

class GgufFile;

// How an architecture departs from the llama baseline.
struct ArchitectureTraits {
  std::string_view name;          // general.architecture
  kernels::RopeStyle rope_style;  // pair layout of rotary embeddings
  bool qkv_bias;                  // attn_{q,k,v}.bias present (qwen2)
  bool qk_norm;                   // per-head RMSNorm of Q and K before rope (qwen3)
  float default_rms_eps;
  float default_rope_freq_base;
};

// The traits of a known architecture, or an error naming `name` and the known ones.
absl::StatusOr<ArchitectureTraits> FindArchitecture(std::string_view name);

struct ModelConfig {
  ArchitectureTraits arch;
  int32_t n_vocab = 0;
  int32_t n_embd = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;  // per-head width of Q/K/V (key_length; n_embd / n_heads by default)
  int32_t n_ff = 0;
  int32_t n_ctx_train = 0;  // context length the model was trained for
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;

  int32_t q_dim() const { return n_heads * head_dim; }
  int32_t kv_dim() const { return n_kv_heads * head_dim; }
};

// Reads and validates `<arch>.*` metadata. n_vocab comes from the tokenizer
// token list (or `<arch>.vocab_size`).
absl::StatusOr<ModelConfig> ReadModelConfig(const GgufFile& file);

}  // namespace surge::engine::model
