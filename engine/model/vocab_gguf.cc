#include "engine/model/vocab_gguf.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace surge::engine::model {
namespace {

constexpr char kModel[] = "tokenizer.ggml.model";
constexpr char kPre[] = "tokenizer.ggml.pre";
constexpr char kTokens[] = "tokenizer.ggml.tokens";
constexpr char kScores[] = "tokenizer.ggml.scores";
constexpr char kTypes[] = "tokenizer.ggml.token_type";
constexpr char kMerges[] = "tokenizer.ggml.merges";
constexpr char kAddBos[] = "tokenizer.ggml.add_bos_token";
constexpr char kAddEos[] = "tokenizer.ggml.add_eos_token";
constexpr char kAddSpacePrefix[] = "tokenizer.ggml.add_space_prefix";

struct SpecialId {
  const char* key;
  int32_t Vocab::*field;
};
constexpr SpecialId kSpecialIds[] = {
    {"tokenizer.ggml.bos_token_id", &Vocab::bos_id},
    {"tokenizer.ggml.eos_token_id", &Vocab::eos_id},
    {"tokenizer.ggml.unknown_token_id", &Vocab::unk_id},
    {"tokenizer.ggml.padding_token_id", &Vocab::pad_id},
    {"tokenizer.ggml.eot_token_id", &Vocab::eot_id},
};

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("vocab: ", what));
}

// An optional bool: its value, `fallback` when absent, an error when mistyped.
absl::StatusOr<bool> OptionalBool(const GgufFile& f, const char* key, bool fallback) {
  if (!f.Has(key)) return fallback;
  return f.GetBool(key);
}

absl::Status ReadArrays(const GgufFile& f, Vocab& v) {
  SURGE_ASSIGN_OR_RETURN(v.tokens, f.GetStringArray(kTokens));
  const size_t n = v.tokens.size();
  if (n == 0) return Invalid(absl::StrCat(kTokens, " is empty"));
  if (n > static_cast<size_t>(INT32_MAX)) return Invalid(absl::StrCat(kTokens, " is too long"));
  if (f.Has(kScores)) {
    SURGE_ASSIGN_OR_RETURN(v.scores, f.GetFloat32Array(kScores));
    if (v.scores.size() != n) {
      return Invalid(
          absl::StrCat(kScores, " has ", v.scores.size(), " entries for ", n, " tokens"));
    }
  } else if (v.kind == TokenizerKind::kSpm) {
    v.scores.assign(n, 0.0f);
  }
  v.types.assign(n, TokenType::kNormal);
  if (f.Has(kTypes)) {
    SURGE_ASSIGN_OR_RETURN(std::vector<int32_t> types, f.GetInt32Array(kTypes));
    if (types.size() != n) {
      return Invalid(absl::StrCat(kTypes, " has ", types.size(), " entries for ", n, " tokens"));
    }
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > static_cast<int32_t>(TokenType::kByte)) {
        return Invalid(absl::StrCat("token ", i, " has unknown type ", types[i]));
      }
      v.types[i] = static_cast<TokenType>(types[i]);
    }
  }
  if (f.Has(kMerges)) {
    SURGE_ASSIGN_OR_RETURN(v.merges, f.GetStringArray(kMerges));
  }
  return absl::OkStatus();
}

absl::Status ReadSpecialIds(const GgufFile& f, Vocab& v) {
  const int64_t n = static_cast<int64_t>(v.tokens.size());
  if (v.kind == TokenizerKind::kSpm) {
    v.unk_id = 0;
    v.bos_id = 1;
    v.eos_id = 2;
  }
  for (const SpecialId& s : kSpecialIds) {
    int32_t& field = v.*s.field;
    if (!f.Has(s.key)) {
      if (field >= n) field = -1;  // a default that does not fit this vocabulary
      continue;
    }
    SURGE_ASSIGN_OR_RETURN(int64_t id, f.GetInt64(s.key));
    field = id >= 0 && id < n ? static_cast<int32_t>(id) : -1;
    if (id >= n || id < -1) {
      SURGE_LOG_WARN("vocab: {} = {} is outside the {}-token vocabulary; ignored", s.key, id, n);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Vocab> ReadVocab(const GgufFile& f) {
  Vocab v;
  SURGE_ASSIGN_OR_RETURN(std::string model, f.GetString(kModel));
  if (model == "llama") {
    v.kind = TokenizerKind::kSpm;
  } else if (model == "gpt2") {
    v.kind = TokenizerKind::kBpe;
  } else {
    return absl::UnimplementedError(
        absl::StrCat("vocab: tokenizer model '", model, "' is not supported (llama and gpt2 are)"));
  }
  if (f.Has(kPre)) {
    SURGE_ASSIGN_OR_RETURN(v.pre, f.GetString(kPre));
  } else if (v.kind == TokenizerKind::kBpe) {
    v.pre = "default";
  }
  SURGE_RETURN_IF_ERROR(ReadArrays(f, v));
  SURGE_RETURN_IF_ERROR(ReadSpecialIds(f, v));
  const bool spm = v.kind == TokenizerKind::kSpm;
  SURGE_ASSIGN_OR_RETURN(v.add_bos, OptionalBool(f, kAddBos, spm));
  SURGE_ASSIGN_OR_RETURN(v.add_eos, OptionalBool(f, kAddEos, false));
  SURGE_ASSIGN_OR_RETURN(v.add_space_prefix, OptionalBool(f, kAddSpacePrefix, spm));
  return v;
}

void WriteVocab(const Vocab& v, GgufWriter& w) {
  w.SetString(kModel, v.kind == TokenizerKind::kSpm ? "llama" : "gpt2");
  if (!v.pre.empty()) w.SetString(kPre, v.pre);
  w.SetStringArray(kTokens, v.tokens);
  if (!v.scores.empty()) w.SetFloat32Array(kScores, v.scores);
  std::vector<int32_t> types(v.types.size());
  for (size_t i = 0; i < types.size(); ++i) types[i] = static_cast<int32_t>(v.types[i]);
  w.SetInt32Array(kTypes, types);
  if (!v.merges.empty()) w.SetStringArray(kMerges, v.merges);
  for (const SpecialId& s : kSpecialIds) {
    if (v.*s.field >= 0) w.SetUint32(s.key, static_cast<uint32_t>(v.*s.field));
  }
  w.SetBool(kAddBos, v.add_bos);
  w.SetBool(kAddEos, v.add_eos);
  w.SetBool(kAddSpacePrefix, v.add_space_prefix);
}

}  // namespace surge::engine::model
