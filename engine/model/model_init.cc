#include "engine/model/model_init.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/kernels/quantize.h"
#include "engine/model/vocab.h"
#include "engine/model/vocab_gguf.h"

namespace surge::engine::model {
namespace {

using kernels::DType;

struct Shape {
  const char* name;
  int64_t n_embd, n_layers, n_heads, n_ff, n_ctx;
};
constexpr Shape kPresets[] = {
    {"tiny", 288, 6, 6, 768, 512},
    {"small", 768, 12, 12, 2048, 1024},
};

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// ~N(0, 1): the sum of four 24-bit uniforms (two per 64-bit draw), centred
// and scaled to unit variance. Plain float arithmetic, so every build agrees.
float StandardNormal(uint64_t& state) {
  constexpr float kUnit = 1.0f / 16777216.0f;
  constexpr float kScale = 1.7320508f;  // sqrt(12 / 4)
  uint64_t a = SplitMix64(state), b = SplitMix64(state);
  float u = static_cast<float>(a >> 40) * kUnit + static_cast<float>((a >> 8) & 0xffffff) * kUnit +
            static_cast<float>(b >> 40) * kUnit + static_cast<float>((b >> 8) & 0xffffff) * kUnit;
  return (u - 2.0f) * kScale;
}

// How a tensor's values are drawn.
struct Init {
  float mean;
  float stddev;
};

// Adds one tensor whose rows are generated (and converted to `type`) while
// the writer writes it.
absl::Status AddRandom(GgufWriter& w, uint64_t seed, const std::string& name,
                       std::vector<int64_t> dims, DType type, Init init) {
  const int64_t cols = dims[0];
  const int64_t rows = dims.size() > 1 ? dims[1] : 1;
  const int64_t row_bytes = kernels::RowBytes(type, cols);
  const uint64_t tensor_seed = seed ^ Fnv1a(name);
  return w.AddTensorFn(name, std::move(dims), type, [=](std::span<uint8_t> out) {
    uint64_t state = tensor_seed;
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (float& x : row) {
        x = init.stddev == 0.0f ? init.mean : init.mean + init.stddev * StandardNormal(state);
      }
      kernels::QuantizeRow(type, row.data(), cols, out.data() + r * row_bytes);
    }
    return absl::OkStatus();
  });
}

void SetHyperParameters(const InitOptions& o, const Shape& s, int64_t n_kv, int64_t n_vocab,
                        GgufWriter& w) {
  const std::string& a = o.arch;
  const bool qwen = a != "llama";
  const uint32_t head_dim = static_cast<uint32_t>(s.n_embd / s.n_heads);
  w.SetString("general.architecture", a);
  w.SetString("general.name", absl::StrCat("surge-", a, "-", o.preset));
  w.SetUint32("general.file_type", GgufFileType(o.type));
  w.SetUint32("general.quantization_version", 2);
  w.SetUint32("general.alignment", kGgufDefaultAlignment);
  w.SetUint32(a + ".context_length", static_cast<uint32_t>(s.n_ctx));
  w.SetUint32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
  w.SetUint32(a + ".block_count", static_cast<uint32_t>(s.n_layers));
  w.SetUint32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.SetUint32(a + ".attention.head_count", static_cast<uint32_t>(s.n_heads));
  w.SetUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(n_kv));
  w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", qwen ? 1e-6f : 1e-5f);
  w.SetFloat32(a + ".rope.freq_base", qwen ? 1000000.0f : 10000.0f);
  w.SetUint32(a + ".rope.dimension_count", head_dim);
  if (a == "qwen3") {
    w.SetUint32(a + ".attention.key_length", head_dim);
    w.SetUint32(a + ".attention.value_length", head_dim);
  }
  w.SetUint32(a + ".vocab_size", static_cast<uint32_t>(n_vocab));
}

absl::Status AddLayer(const InitOptions& o, const Shape& s, int64_t n_kv, int64_t layer,
                      GgufWriter& w) {
  const int64_t hd = s.n_embd / s.n_heads, q_dim = s.n_heads * hd, kv_dim = n_kv * hd;
  const Init weight{0.0f, 0.02f};
  const Init projection{0.0f, 0.02f / std::sqrt(2.0f * static_cast<float>(s.n_layers))};
  const Init one{1.0f, 0.0f}, bias{0.0f, 0.01f};
  const std::string p = absl::StrCat("blk.", layer, ".");
  struct T {
    std::string name;
    std::vector<int64_t> dims;
    Init init;
  };
  std::vector<T> ts = {
      {"attn_norm.weight", {s.n_embd}, one},
      {"attn_q.weight", {s.n_embd, q_dim}, weight},
      {"attn_k.weight", {s.n_embd, kv_dim}, weight},
      {"attn_v.weight", {s.n_embd, kv_dim}, weight},
      {"attn_output.weight", {q_dim, s.n_embd}, projection},
  };
  if (o.arch == "qwen2") {
    ts.push_back({"attn_q.bias", {q_dim}, bias});
    ts.push_back({"attn_k.bias", {kv_dim}, bias});
    ts.push_back({"attn_v.bias", {kv_dim}, bias});
  }
  if (o.arch == "qwen3") {
    ts.push_back({"attn_q_norm.weight", {hd}, one});
    ts.push_back({"attn_k_norm.weight", {hd}, one});
  }
  ts.push_back({"ffn_norm.weight", {s.n_embd}, one});
  ts.push_back({"ffn_gate.weight", {s.n_embd, s.n_ff}, weight});
  ts.push_back({"ffn_up.weight", {s.n_embd, s.n_ff}, weight});
  ts.push_back({"ffn_down.weight", {s.n_ff, s.n_embd}, projection});
  for (T& t : ts) {
    DType type = t.dims.size() == 1 ? DType::kF32 : o.type;
    SURGE_RETURN_IF_ERROR(AddRandom(w, o.seed, p + t.name, std::move(t.dims), type, t.init));
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t GgufFileType(DType type) {
  switch (type) {
    case DType::kF32:
      return 0;
    case DType::kF16:
      return 1;
    case DType::kQ4_0:
      return 2;
    case DType::kQ8_0:
      return 7;
    case DType::kBF16:
      return 32;
  }
  return 0;
}

absl::Status BuildRandomModel(const InitOptions& o, GgufWriter& w) {
  const Shape* shape = nullptr;
  for (const Shape& s : kPresets) {
    if (o.preset == s.name) shape = &s;
  }
  if (shape == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("model init: unknown preset '", o.preset, "' (known: tiny, small)"));
  }
  if (o.arch != "llama" && o.arch != "qwen2" && o.arch != "qwen3") {
    return absl::InvalidArgumentError(absl::StrCat("model init: unknown architecture '", o.arch,
                                                   "' (known: llama, qwen2, qwen3)"));
  }
  Shape s = *shape;
  if (o.n_heads != 0) {
    if (o.n_heads < 1 || s.n_embd % o.n_heads != 0 || s.n_embd / o.n_heads % 2 != 0) {
      return absl::InvalidArgumentError(absl::StrCat("model init: ", o.n_heads,
                                                     " heads do not split n_embd ", s.n_embd,
                                                     " into even head widths"));
    }
    s.n_heads = o.n_heads;
  }
  const int64_t n_kv = o.n_kv_heads == 0 ? s.n_heads : o.n_kv_heads;
  if (n_kv < 1 || n_kv > s.n_heads || s.n_heads % n_kv != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model init: kv heads ", o.n_kv_heads,
                                                   " must divide the ", s.n_heads, " heads of '",
                                                   o.preset, "'"));
  }
  if (!kernels::TraitsOf(static_cast<uint32_t>(o.type))) {
    return absl::InvalidArgumentError("model init: unsupported tensor type");
  }
  const Vocab vocab = DefaultVocab(o.arch == "llama" ? TokenizerKind::kSpm : TokenizerKind::kBpe);
  const int64_t n_vocab = static_cast<int64_t>(vocab.tokens.size());
  SetHyperParameters(o, s, n_kv, n_vocab, w);
  WriteVocab(vocab, w);

  const Init weight{0.0f, 0.02f}, one{1.0f, 0.0f};
  SURGE_RETURN_IF_ERROR(
      AddRandom(w, o.seed, "token_embd.weight", {s.n_embd, n_vocab}, o.type, weight));
  SURGE_RETURN_IF_ERROR(AddRandom(w, o.seed, "output_norm.weight", {s.n_embd}, DType::kF32, one));
  if (!o.tied_embeddings) {
    SURGE_RETURN_IF_ERROR(
        AddRandom(w, o.seed, "output.weight", {s.n_embd, n_vocab}, o.type, weight));
  }
  for (int64_t i = 0; i < s.n_layers; ++i) SURGE_RETURN_IF_ERROR(AddLayer(o, s, n_kv, i, w));
  return absl::OkStatus();
}

absl::Status WriteRandomModel(const InitOptions& o, const std::string& path) {
  GgufWriter w;
  SURGE_RETURN_IF_ERROR(BuildRandomModel(o, w));
  return w.WriteFile(path);
}

}  // namespace surge::engine::model
