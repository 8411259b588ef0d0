#include "engine/model/model_config.h"

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/model/gguf_reader.h"

namespace surge::engine::model {
namespace {

using kernels::RopeStyle;

// The registry. A new family that only differs in these traits is one row;
// one that needs new operations gets its own file beside the runner.
constexpr std::array kArchitectures = {
    ArchitectureTraits{"llama", RopeStyle::kNormal, false, false, 1e-5f, 10000.0f},
    ArchitectureTraits{"qwen2", RopeStyle::kNeox, true, false, 1e-6f, 1000000.0f},
    ArchitectureTraits{"qwen3", RopeStyle::kNeox, false, true, 1e-6f, 1000000.0f},
};

absl::StatusOr<int32_t> RequiredInt(const GgufFile& file, const std::string& key) {
  absl::StatusOr<uint32_t> v = file.GetUint32(key);
  if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat("model: ", v.status().message()));
  if (*v == 0 || *v > (1u << 24)) {
    return absl::InvalidArgumentError(absl::StrCat("model: ", key, " = ", *v, " is out of range"));
  }
  return static_cast<int32_t>(*v);
}

int32_t OptionalInt(const GgufFile& file, const std::string& key, int32_t fallback) {
  if (!file.Has(key)) return fallback;
  absl::StatusOr<uint32_t> v = file.GetUint32(key);
  return v.ok() && *v > 0 && *v <= (1u << 24) ? static_cast<int32_t>(*v) : -1;
}

float OptionalFloat(const GgufFile& file, const std::string& key, float fallback) {
  if (!file.Has(key)) return fallback;
  absl::StatusOr<float> v = file.GetFloat32(key);
  return v.ok() ? *v : -1.0f;
}

}  // namespace

absl::StatusOr<ArchitectureTraits> FindArchitecture(std::string_view name) {
  std::vector<std::string> known;
  for (const ArchitectureTraits& a : kArchitectures) {
    if (a.name == name) return a;
    known.emplace_back(a.name);
  }
  return absl::UnimplementedError(absl::StrCat("model: unsupported architecture '",
                                               std::string(name),
                                               "' (supported: ", absl::StrJoin(known, ", "), ")"));
}

absl::StatusOr<ModelConfig> ReadModelConfig(const GgufFile& file) {
  SURGE_ASSIGN_OR_RETURN(std::string arch_name, file.GetString("general.architecture"));
  SURGE_ASSIGN_OR_RETURN(ArchitectureTraits arch, FindArchitecture(arch_name));
  const std::string p = absl::StrCat(arch_name, ".");

  ModelConfig c;
  c.arch = arch;
  SURGE_ASSIGN_OR_RETURN(c.n_embd, RequiredInt(file, p + "embedding_length"));
  SURGE_ASSIGN_OR_RETURN(c.n_layers, RequiredInt(file, p + "block_count"));
  SURGE_ASSIGN_OR_RETURN(c.n_heads, RequiredInt(file, p + "attention.head_count"));
  SURGE_ASSIGN_OR_RETURN(c.n_ff, RequiredInt(file, p + "feed_forward_length"));
  c.n_kv_heads = OptionalInt(file, p + "attention.head_count_kv", c.n_heads);
  c.n_ctx_train = OptionalInt(file, p + "context_length", 2048);
  c.head_dim = OptionalInt(file, p + "attention.key_length", c.n_embd / c.n_heads);
  int32_t value_dim = OptionalInt(file, p + "attention.value_length", c.head_dim);
  c.rms_eps = OptionalFloat(file, p + "attention.layer_norm_rms_epsilon", arch.default_rms_eps);
  c.rope_freq_base = OptionalFloat(file, p + "rope.freq_base", arch.default_rope_freq_base);
  int32_t rope_dims = OptionalInt(file, p + "rope.dimension_count", c.head_dim);

  absl::StatusOr<std::vector<std::string>> tokens = file.GetStringArray("tokenizer.ggml.tokens");
  c.n_vocab =
      tokens.ok() ? static_cast<int32_t>(tokens->size()) : OptionalInt(file, p + "vocab_size", -1);

  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("model: ", arch_name, " ", std::string(what)));
  };
  if (c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0) {
    return bad(absl::StrCat("attention.head_count ", c.n_heads,
                            " is not a multiple of attention.head_count_kv ", c.n_kv_heads));
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0 || c.head_dim > 1024) {
    return bad(absl::StrCat("head width ", c.head_dim, " is not an even number up to 1024"));
  }
  if (value_dim != c.head_dim) return bad("with value_length != key_length is not supported");
  if (rope_dims != c.head_dim) return bad("with partial rotary embeddings is not supported");
  if (c.n_ctx_train <= 0) return bad("context_length is invalid");
  if (c.n_vocab <= 0) return bad("has no tokenizer.ggml.tokens and no vocab_size");
  if (!(c.rms_eps > 0.0f && c.rms_eps < 1.0f)) return bad("layer_norm_rms_epsilon is invalid");
  if (!(c.rope_freq_base > 0.0f)) return bad("rope.freq_base is invalid");
  return c;
}

}  // namespace surge::engine::model
