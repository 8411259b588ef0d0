#include "jobs/train/checkpoint.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/vocab_gguf.h"
#include "jobs/train/export.h"

namespace surge::jobs::train {
namespace {

using engine::model::GgufFile;
using engine::model::GgufType;
using engine::model::GgufValue;
using engine::model::GgufWriter;

constexpr char kPrefix[] = "surge.train.";
constexpr uint32_t kFormat = 1;

std::string Key(std::string_view name) { return absl::StrCat(kPrefix, std::string(name)); }

void WriteRecipe(const TrainRecipe& r, GgufWriter& w) {
  w.SetUint32(Key("format"), kFormat);
  w.SetUint64(Key("batch"), static_cast<uint64_t>(r.batch));
  w.SetFloat32(Key("val_fraction"), r.val_fraction);
  w.SetUint64(Key("steps"), static_cast<uint64_t>(r.steps));
  w.SetFloat32(Key("lr"), r.lr);
  w.SetFloat32(Key("min_lr"), r.min_lr);
  w.SetUint64(Key("warmup_steps"), static_cast<uint64_t>(r.warmup_steps));
  w.SetFloat32(Key("beta1"), r.adamw.beta1);
  w.SetFloat32(Key("beta2"), r.adamw.beta2);
  w.SetFloat32(Key("eps"), r.adamw.eps);
  w.SetFloat32(Key("weight_decay"), r.adamw.weight_decay);
  w.SetFloat32(Key("grad_clip"), r.grad_clip);
  w.SetUint64(Key("seed"), r.seed);
  w.SetBool(Key("tied_embeddings"), r.shape.tied_embeddings);
}

void WriteState(const TrainState& s, GgufWriter& w) {
  w.SetUint64(Key("step"), static_cast<uint64_t>(s.step));
  w.SetValue(Key("rng"), GgufValue::Array(GgufType::kUint64,
                                          std::vector<uint64_t>(s.rng.begin(), s.rng.end())));
  w.SetUint64(Key("corpus_fingerprint"), s.corpus_fingerprint);
  w.SetString(Key("corpus"), s.corpus_name);
  w.SetFloat32(Key("val_loss"), s.val_loss);
}

// Typed readers that name the key in their errors.
absl::StatusOr<uint64_t> U64(const GgufFile& f, std::string_view name) {
  const GgufValue* v = f.Find(Key(name));
  std::optional<uint64_t> x = v == nullptr ? std::nullopt : v->AsUint64();
  if (!x) return absl::InvalidArgumentError(absl::StrCat("checkpoint: no integer ", Key(name)));
  return *x;
}
absl::StatusOr<float> F32(const GgufFile& f, std::string_view name) {
  return f.GetFloat32(Key(name));
}

absl::StatusOr<ModelShape> ReadShape(const GgufFile& f, int32_t n_vocab) {
  ModelShape s;
  auto u32 = [&f](const char* key) { return f.GetUint32(absl::StrCat("llama.", key)); };
  SURGE_ASSIGN_OR_RETURN(uint32_t ctx, u32("context_length"));
  SURGE_ASSIGN_OR_RETURN(uint32_t embd, u32("embedding_length"));
  SURGE_ASSIGN_OR_RETURN(uint32_t layers, u32("block_count"));
  SURGE_ASSIGN_OR_RETURN(uint32_t ff, u32("feed_forward_length"));
  SURGE_ASSIGN_OR_RETURN(uint32_t heads, u32("attention.head_count"));
  SURGE_ASSIGN_OR_RETURN(uint32_t kv_heads, u32("attention.head_count_kv"));
  SURGE_ASSIGN_OR_RETURN(s.rms_eps, f.GetFloat32("llama.attention.layer_norm_rms_epsilon"));
  SURGE_ASSIGN_OR_RETURN(s.rope_freq_base, f.GetFloat32("llama.rope.freq_base"));
  SURGE_ASSIGN_OR_RETURN(s.tied_embeddings, f.GetBool(Key("tied_embeddings")));
  constexpr uint32_t kMax = 1u << 20;
  if (ctx > kMax || embd > kMax || layers > kMax || ff > kMax || heads > kMax || kv_heads > kMax) {
    return absl::InvalidArgumentError("checkpoint: model dimensions out of range");
  }
  s.n_vocab = n_vocab;
  s.n_ctx = static_cast<int32_t>(ctx);
  s.n_embd = static_cast<int32_t>(embd);
  s.n_layers = static_cast<int32_t>(layers);
  s.n_ff = static_cast<int32_t>(ff);
  s.n_heads = static_cast<int32_t>(heads);
  s.n_kv_heads = static_cast<int32_t>(kv_heads);
  SURGE_RETURN_IF_ERROR(s.Validate());
  return s;
}

absl::StatusOr<TrainRecipe> ReadRecipe(const GgufFile& f, int32_t n_vocab) {
  TrainRecipe r;
  SURGE_ASSIGN_OR_RETURN(r.shape, ReadShape(f, n_vocab));
  SURGE_ASSIGN_OR_RETURN(uint64_t batch, U64(f, "batch"));
  SURGE_ASSIGN_OR_RETURN(uint64_t steps, U64(f, "steps"));
  SURGE_ASSIGN_OR_RETURN(uint64_t warmup, U64(f, "warmup_steps"));
  SURGE_ASSIGN_OR_RETURN(r.seed, U64(f, "seed"));
  SURGE_ASSIGN_OR_RETURN(r.val_fraction, F32(f, "val_fraction"));
  SURGE_ASSIGN_OR_RETURN(r.lr, F32(f, "lr"));
  SURGE_ASSIGN_OR_RETURN(r.min_lr, F32(f, "min_lr"));
  SURGE_ASSIGN_OR_RETURN(r.adamw.beta1, F32(f, "beta1"));
  SURGE_ASSIGN_OR_RETURN(r.adamw.beta2, F32(f, "beta2"));
  SURGE_ASSIGN_OR_RETURN(r.adamw.eps, F32(f, "eps"));
  SURGE_ASSIGN_OR_RETURN(r.adamw.weight_decay, F32(f, "weight_decay"));
  SURGE_ASSIGN_OR_RETURN(r.grad_clip, F32(f, "grad_clip"));
  constexpr uint64_t kMax = uint64_t{1} << 40;
  if (batch > kMax || steps > kMax || warmup > kMax) {
    return absl::InvalidArgumentError("checkpoint: batch or step counts out of range");
  }
  r.batch = static_cast<int64_t>(batch);
  r.steps = static_cast<int64_t>(steps);
  r.warmup_steps = static_cast<int64_t>(warmup);
  return r;
}

absl::StatusOr<TrainState> ReadState(const GgufFile& f) {
  TrainState s;
  SURGE_ASSIGN_OR_RETURN(uint64_t step, U64(f, "step"));
  s.step = static_cast<int64_t>(step);
  const GgufValue* rng = f.Find(Key("rng"));
  if (rng == nullptr || rng->type != GgufType::kArray || rng->elem_type != GgufType::kUint64 ||
      rng->array_size() != s.rng.size()) {
    return absl::InvalidArgumentError("checkpoint: surge.train.rng is not 4 uint64 values");
  }
  for (size_t i = 0; i < s.rng.size(); ++i) s.rng[i] = *rng->AsUint64(i);
  SURGE_ASSIGN_OR_RETURN(s.corpus_fingerprint, U64(f, "corpus_fingerprint"));
  SURGE_ASSIGN_OR_RETURN(s.corpus_name, f.GetString(Key("corpus")));
  SURGE_ASSIGN_OR_RETURN(s.val_loss, F32(f, "val_loss"));
  return s;
}

// Copies tensor `name` (f32, rows x cols) into dst.
absl::Status CopyTensor(const GgufFile& f, const std::string& name, int64_t rows, int64_t cols,
                        float* dst) {
  const engine::model::GgufTensorInfo* t = f.FindTensor(name);
  const std::vector<int64_t> want =
      rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows};
  if (t == nullptr || t->dims != want || t->type != engine::kernels::DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: tensor ", name, " is missing or has the wrong shape or type"));
  }
  std::memcpy(dst, f.TensorData(*t), static_cast<size_t>(rows * cols) * sizeof(float));
  return absl::OkStatus();
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& path, const TrainRecipe& recipe,
                            const engine::model::Vocab& vocab, const TrainModel& model,
                            const TrainState& state, const std::string& model_name) {
  GgufWriter w;
  SURGE_RETURN_IF_ERROR(AddModel(model, vocab, model_name, w));
  WriteRecipe(recipe, w);
  WriteState(state, w);
  const ParamStore& params = model.params();
  for (int id = 0; id < static_cast<int>(params.infos().size()); ++id) {
    const ParamInfo& p = params.info(id);
    SURGE_RETURN_IF_ERROR(AddF32Tensor(w, "optim.m." + p.name, p.rows, p.cols, params.moment1(id)));
    SURGE_RETURN_IF_ERROR(AddF32Tensor(w, "optim.v." + p.name, p.rows, p.cols, params.moment2(id)));
  }
  return w.WriteFile(path);
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path) {
  auto prefixed = [&path](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", std::string(s.message())));
  };
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  if (!file.ok()) return prefixed(file.status());
  const GgufFile& f = **file;
  absl::StatusOr<uint32_t> format = f.GetUint32(Key("format"));
  if (!format.ok() || *format != kFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a surge training checkpoint (format ", kFormat, ")"));
  }
  Checkpoint c;
  absl::StatusOr<engine::model::Vocab> vocab = engine::model::ReadVocab(f);
  if (!vocab.ok()) return prefixed(vocab.status());
  c.vocab = *std::move(vocab);
  absl::StatusOr<TrainRecipe> recipe = ReadRecipe(f, static_cast<int32_t>(c.vocab.tokens.size()));
  if (!recipe.ok()) return prefixed(recipe.status());
  c.recipe = *recipe;
  absl::StatusOr<TrainState> state = ReadState(f);
  if (!state.ok()) return prefixed(state.status());
  c.state = *std::move(state);
  c.file = *std::move(file);
  return c;
}

absl::Status RestoreParams(const GgufFile& f, ParamStore& params) {
  for (int id = 0; id < static_cast<int>(params.infos().size()); ++id) {
    const ParamInfo& p = params.info(id);
    SURGE_RETURN_IF_ERROR(CopyTensor(f, p.name, p.rows, p.cols, params.value(id)));
    SURGE_RETURN_IF_ERROR(CopyTensor(f, "optim.m." + p.name, p.rows, p.cols, params.moment1(id)));
    SURGE_RETURN_IF_ERROR(CopyTensor(f, "optim.v." + p.name, p.rows, p.cols, params.moment2(id)));
  }
  return absl::OkStatus();
}

}  // namespace surge::jobs::train
