// The eval job: perplexity of a model on a held-out text and its generation
// throughput (jobs/eval/evaluate.h).
//
// Args: model (required, a GGUF file), text (required, a UTF-8 file),
// window (tokens per perplexity window; default the model's context),
// max_tokens (score at most this many; default all), tg_tokens (tokens
// generated for the throughput figure; default 64, 0 skips it).
// Result: see eval::ToJson(EvalReport).
#include <string>

#include "jobs/builtin_kinds.h"
#include "jobs/eval/evaluate.h"
#include "jobs/job_args.h"

namespace surge::jobs {
namespace {

absl::StatusOr<eval::EvalOptions> ParseEvalArgs(const Json& json) {
  ArgReader r(json, "eval");
  eval::EvalOptions o;
  o.model_path = r.ExistingFile("model", /*required=*/true).value_or("");
  o.text_path = r.ExistingFile("text", /*required=*/true).value_or("");
  o.window = r.Int("window", 2, 1 << 20).value_or(0);
  o.max_tokens = r.Int("max_tokens", 1, INT64_MAX).value_or(0);
  o.tg_tokens = r.Int("tg_tokens", 0, 1 << 16).value_or(64);
  SURGE_RETURN_IF_ERROR(r.Finish());
  return o;
}

class EvalKind final : public JobKind {
 public:
  std::string name() const override { return "eval"; }

  absl::Status Validate(const Json& args) const override { return ParseEvalArgs(args).status(); }

  absl::StatusOr<Json> Run(JobContext& ctx) const override {
    SURGE_ASSIGN_OR_RETURN(eval::EvalOptions o, ParseEvalArgs(ctx.args()));
    o.threads = ctx.threads();
    auto progress = [&ctx](double fraction, const std::map<std::string, double>& figures,
                           const std::string& message) {
      ctx.ReportProgress(JobProgress{fraction, -1, figures, message});
    };
    SURGE_ASSIGN_OR_RETURN(eval::EvalReport report,
                           eval::EvaluateModel(o, progress, ctx.cancel_flag()));
    return eval::ToJson(report);
  }
};

}  // namespace

std::unique_ptr<JobKind> MakeEvalKind() { return std::make_unique<EvalKind>(); }

}  // namespace surge::jobs
