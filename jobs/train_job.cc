// The train job: jobs/train's Train() with its checkpoints in the job's work
// dir, so a restart resumes the run where its last checkpoint left it.
//
// Args: corpus (required: kjv | fortunes | a text file), output (default
// <work dir>/model.gguf), preset (micro | default; default "default"),
// type (f32 | f16 | bf16 | q8_0 | q4_0), steps, batch, warmup, vocab, lr,
// seed, eval_every, checkpoint_every (default: the preset's, else a tenth
// of the steps), name (general.name; default: the output's stem).
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/kernels/dtype.h"
#include "engine/model/quantize_model.h"
#include "jobs/builtin_kinds.h"
#include "jobs/job_args.h"
#include "jobs/train/corpus.h"
#include "jobs/train/trainer.h"

namespace surge::jobs {
namespace {

namespace fs = std::filesystem;
using engine::kernels::DType;

constexpr char kCheckpointFile[] = "checkpoint.gguf";  // what Train() writes in its dir

struct TrainArgs {
  std::string corpus;
  std::string output;  // "" : in the work dir
  DType type = DType::kF32;
  train::TrainConfig config;
};

absl::StatusOr<TrainArgs> ParseTrainArgs(const Json& json) {
  ArgReader r(json, "train");
  TrainArgs a;
  a.corpus = r.RequiredString("corpus");
  a.output = r.String("output").value_or("");
  const std::string preset = r.String("preset").value_or("default");
  const std::string type = r.String("type").value_or("f32");
  const auto steps = r.Int("steps", 1, 10'000'000);
  const auto batch = r.Int("batch", 1, 1 << 16);
  const auto warmup = r.Int("warmup", 0, 10'000'000);
  const auto vocab = r.Int("vocab", 258, 1 << 20);
  const auto lr = r.Number("lr", 1e-8, 10);
  const auto seed = r.Int("seed", 0, INT64_MAX);
  const auto eval_every = r.Int("eval_every", 0, 10'000'000);
  const auto checkpoint_every = r.Int("checkpoint_every", 0, 10'000'000);
  const auto name = r.String("name");
  SURGE_RETURN_IF_ERROR(r.Finish());

  const std::optional<DType> dtype = engine::kernels::DTypeFromName(type);
  if (!dtype) return absl::InvalidArgumentError("train job: unknown type '" + type + "'");
  a.type = *dtype;
  absl::StatusOr<train::TrainConfig> preset_config = train::PresetConfig(preset);
  if (!preset_config.ok()) return absl::InvalidArgumentError(preset_config.status().message());
  train::TrainConfig& c = *preset_config;
  train::TrainRecipe& rec = c.recipe;
  if (steps) rec.steps = *steps;
  if (batch) rec.batch = *batch;
  if (warmup) rec.warmup_steps = *warmup;
  if (vocab) rec.shape.n_vocab = static_cast<int32_t>(*vocab);
  if (lr) {
    rec.min_lr = rec.min_lr / rec.lr * static_cast<float>(*lr);  // keep the preset's floor ratio
    rec.lr = static_cast<float>(*lr);
  }
  if (seed) rec.seed = static_cast<uint64_t>(*seed);
  if (rec.warmup_steps > rec.steps) rec.warmup_steps = rec.steps;
  if (eval_every) c.eval_every = *eval_every;
  if (checkpoint_every) {
    c.checkpoint_every = *checkpoint_every;
  } else if (c.checkpoint_every == 0) {
    c.checkpoint_every = std::max<int64_t>(1, rec.steps / 10);
  }
  c.checkpoint_dir = "(work dir)";  // set for real at run time
  c.model_name = name.value_or(a.output.empty() ? "surge-trained" : fs::path(a.output).stem());
  SURGE_RETURN_IF_ERROR(train::ValidateConfig(c));
  if (a.corpus != "kjv" && a.corpus != "fortunes" && !fs::is_regular_file(a.corpus)) {
    return absl::InvalidArgumentError(
        absl::StrCat("train job: corpus '", a.corpus, "' is neither kjv, fortunes nor a file"));
  }
  a.config = std::move(c);
  return a;
}

JobProgress ToJobProgress(const train::TrainProgress& p) {
  JobProgress out;
  out.fraction = p.fraction;
  out.eta_seconds = p.phase == train::TrainPhase::kTokenizer ? -1.0 : p.eta.count();
  out.message = p.phase == train::TrainPhase::kTokenizer ? "learning the tokenizer"
                : p.phase == train::TrainPhase::kDone    ? "writing the model"
                                                         : "training";
  out.figures["step"] = static_cast<double>(p.step);
  out.figures["total_steps"] = static_cast<double>(p.total_steps);
  out.figures["loss"] = p.loss;
  out.figures["val_loss"] = p.val_loss;
  out.figures["lr"] = p.lr;
  out.figures["tokens_per_second"] = p.tokens_per_second;
  return out;
}

Json ResultJson(const train::TrainResult& r, const std::string& output) {
  Json j = Json::object();
  j["output"] = output;
  j["steps"] = r.steps;
  j["first_step"] = r.first_step;
  j["loss"] =
      r.losses.empty() || !std::isfinite(r.losses.back()) ? Json(nullptr) : Json(r.losses.back());
  j["val_loss"] = std::isfinite(r.val_loss) ? Json(r.val_loss) : Json(nullptr);
  j["num_params"] = r.num_params;
  j["vocab_size"] = r.vocab_size;
  j["train_tokens"] = r.train_tokens;
  j["val_tokens"] = r.val_tokens;
  j["seconds"] = r.seconds;
  j["tokens_per_second"] = r.tokens_per_second;
  j["checkpoint"] = r.checkpoint_path;
  return j;
}

class TrainKind final : public JobKind {
 public:
  std::string name() const override { return "train"; }
  bool resumable() const override { return true; }

  absl::Status Validate(const Json& args) const override { return ParseTrainArgs(args).status(); }

  absl::StatusOr<Json> Run(JobContext& ctx) const override {
    SURGE_ASSIGN_OR_RETURN(TrainArgs a, ParseTrainArgs(ctx.args()));
    train::TrainConfig& c = a.config;
    const fs::path work(ctx.work_dir());
    const std::string output = a.output.empty() ? (work / "model.gguf").string() : a.output;
    const bool quantize = a.type != DType::kF32;
    c.threads = ctx.threads();
    c.checkpoint_dir = (work / "checkpoint").string();
    c.output_path = quantize ? output + ".f32.tmp" : output;
    const fs::path checkpoint = fs::path(c.checkpoint_dir) / kCheckpointFile;
    std::error_code ec;
    if (fs::is_regular_file(checkpoint, ec)) c.resume_from = checkpoint.string();
    JobProgress reading;
    reading.message = "reading corpus " + a.corpus;
    ctx.ReportProgress(reading);
    SURGE_ASSIGN_OR_RETURN(train::Corpus corpus, train::LoadCorpus(a.corpus));
    auto on_progress = [&ctx](const train::TrainProgress& p) {
      ctx.ReportProgress(ToJobProgress(p));
    };
    SURGE_ASSIGN_OR_RETURN(train::TrainResult r,
                           train::Train(c, corpus, on_progress, ctx.cancel_flag()));
    if (quantize) {
      absl::StatusOr<engine::model::QuantizeReport> q =
          engine::model::QuantizeModel(c.output_path, output, a.type);
      fs::remove(c.output_path, ec);
      if (!q.ok()) return q.status();
    }
    Json result = ResultJson(r, output);
    result["resumed"] = !c.resume_from.empty();
    return result;
  }
};

}  // namespace

std::unique_ptr<JobKind> MakeTrainKind() { return std::make_unique<TrainKind>(); }

}  // namespace surge::jobs
