// The quantize job: rewrites a GGUF model in one or more quantized types
// (engine/model/quantize_model.h) and, given a held-out text, evaluates the
// source and every output, reporting sizes and the perplexity change.
//
// Args: model (required, the source GGUF, usually F32), types (default
// "q8_0,q4_0"), output_dir (default the work dir; outputs are named
// <source stem>-<type>.gguf), text (held-out file; without it only sizes
// are reported), window, max_tokens, tg_tokens (as for eval; default 32).
// Result: {source: <eval report>, outputs: [{type, path, file_bytes,
// size_ratio, tensors_converted, tensors_kept, notes, perplexity,
// ppl_change_percent, eval}]}.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/kernels/dtype.h"
#include "engine/model/quantize_model.h"
#include "jobs/builtin_kinds.h"
#include "jobs/eval/evaluate.h"
#include "jobs/job_args.h"

namespace surge::jobs {
namespace {

namespace fs = std::filesystem;
using engine::kernels::DType;

struct QuantizeArgs {
  std::string model;
  std::vector<std::pair<std::string, DType>> types;
  std::string output_dir;  // "" : the work dir
  eval::EvalOptions eval;  // text_path "" : no evaluation
};

absl::StatusOr<QuantizeArgs> ParseQuantizeArgs(const Json& json) {
  ArgReader r(json, "quantize");
  QuantizeArgs a;
  a.model = r.ExistingFile("model", /*required=*/true).value_or("");
  const std::vector<std::string> types =
      r.List("types").value_or(std::vector<std::string>{"q8_0", "q4_0"});
  a.output_dir = r.String("output_dir").value_or("");
  a.eval.text_path = r.ExistingFile("text", /*required=*/false).value_or("");
  a.eval.window = r.Int("window", 2, 1 << 20).value_or(0);
  a.eval.max_tokens = r.Int("max_tokens", 1, INT64_MAX).value_or(0);
  a.eval.tg_tokens = r.Int("tg_tokens", 0, 1 << 16).value_or(32);
  SURGE_RETURN_IF_ERROR(r.Finish());
  if (types.empty()) return absl::InvalidArgumentError("quantize job: 'types' is empty");
  for (const std::string& t : types) {
    const std::optional<DType> d = engine::kernels::DTypeFromName(t);
    if (!d || (*d != DType::kQ8_0 && *d != DType::kQ4_0 && *d != DType::kF16 &&
               *d != DType::kBF16 && *d != DType::kF32)) {
      return absl::InvalidArgumentError(
          absl::StrCat("quantize job: type '", t, "' is not one of q8_0, q4_0, f16, bf16, f32"));
    }
    a.types.emplace_back(t, *d);
  }
  return a;
}

int64_t FileBytes(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

class QuantizeKind final : public JobKind {
 public:
  std::string name() const override { return "quantize"; }

  absl::Status Validate(const Json& args) const override {
    return ParseQuantizeArgs(args).status();
  }

  absl::StatusOr<Json> Run(JobContext& ctx) const override {
    SURGE_ASSIGN_OR_RETURN(QuantizeArgs a, ParseQuantizeArgs(ctx.args()));
    const bool evaluate = !a.eval.text_path.empty();
    a.eval.threads = ctx.threads();
    const fs::path dir = a.output_dir.empty() ? fs::path(ctx.work_dir()) : fs::path(a.output_dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir.string()));
    // Phases: evaluate the source, then per type quantize (+ evaluate).
    const double phases =
        (evaluate ? 1.0 : 0.0) + static_cast<double>(a.types.size()) * (evaluate ? 2.0 : 1.0);
    double done = 0;
    auto sub_progress = [&](const std::string& what) {
      return [&ctx, &done, phases, what](double f, const std::map<std::string, double>& figures,
                                         const std::string& message) {
        ctx.ReportProgress(JobProgress{(done + f) / phases, -1, figures, what + ": " + message});
      };
    };
    Json result = Json::object();
    std::optional<eval::EvalReport> source;
    if (evaluate) {
      a.eval.model_path = a.model;
      SURGE_ASSIGN_OR_RETURN(
          source, eval::EvaluateModel(a.eval, sub_progress("source"), ctx.cancel_flag()));
      result["source"] = eval::ToJson(*source);
      done += 1;
    } else {
      result["source"] = Json{{"model", a.model}, {"file_bytes", FileBytes(a.model)}};
    }
    result["outputs"] = Json::array();
    for (const auto& [type_name, type] : a.types) {
      if (ctx.cancelled()) return absl::CancelledError("cancelled");
      const std::string out =
          (dir / absl::StrCat(fs::path(a.model).stem().string(), "-", type_name, ".gguf")).string();
      ctx.ReportProgress(JobProgress{done / phases, -1, {}, "quantizing to " + type_name});
      SURGE_ASSIGN_OR_RETURN(engine::model::QuantizeReport q,
                             engine::model::QuantizeModel(a.model, out, type));
      done += 1;
      Json o = Json::object();
      o["type"] = type_name;
      o["path"] = out;
      o["file_bytes"] = FileBytes(out);
      o["size_ratio"] =
          static_cast<double>(FileBytes(out)) / std::max<int64_t>(1, FileBytes(a.model));
      o["tensors_converted"] = q.num_converted;
      o["tensors_kept"] = q.num_kept;
      o["notes"] = q.notes;
      if (evaluate) {
        a.eval.model_path = out;
        SURGE_ASSIGN_OR_RETURN(
            eval::EvalReport e,
            eval::EvaluateModel(a.eval, sub_progress(type_name), ctx.cancel_flag()));
        done += 1;
        o["perplexity"] = e.perplexity;
        o["ppl_change_percent"] = 100.0 * (e.perplexity / source->perplexity - 1.0);
        o["eval"] = eval::ToJson(e);
      }
      result["outputs"].push_back(std::move(o));
    }
    return result;
  }
};

}  // namespace

std::unique_ptr<JobKind> MakeQuantizeKind() { return std::make_unique<QuantizeKind>(); }

}  // namespace surge::jobs
