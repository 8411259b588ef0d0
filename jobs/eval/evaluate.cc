#include "jobs/eval/evaluate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "engine/model/model.h"
#include "engine/runner/engine_bench.h"
#include "jobs/eval/perplexity.h"

namespace surge::jobs::eval {
namespace {

namespace runner = engine::runner;

constexpr double kPerplexityShare = 0.9;  // of the progress bar when throughput follows
constexpr int64_t kMaxTextBytes = int64_t{1} << 30;

// Single-sequence decode and prompt tokens/s on the runner: a short version
// of `surge run --bench` (one warm-up, two timed repetitions).
absl::Status MeasureThroughput(const engine::model::Model& model, const EvalOptions& options,
                               EvalReport* report) {
  const int64_t ctx = model.config().n_ctx_train;
  runner::EngineBenchOptions bench;
  bench.num_threads = options.threads;
  bench.tg_tokens = std::min(options.tg_tokens, ctx);
  bench.pp_tokens = std::min<int64_t>(64, ctx);
  bench.batch_sizes = {1};
  bench.batch_prompt_tokens = std::min<int64_t>(4, ctx / 2);
  bench.batch_steps = std::min<int64_t>(4, ctx / 2);
  bench.repetitions = 2;
  SURGE_ASSIGN_OR_RETURN(runner::EngineBenchResult r, runner::RunEngineBench(model, bench));
  report->tg_tokens_per_second = r.tg.mean;
  report->pp_tokens_per_second = r.pp.mean;
  report->tg_tokens = r.tg_tokens;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", ec.message()));
  if (static_cast<int64_t>(size) > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is larger than 1 GiB"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<EvalReport> EvaluateModel(const EvalOptions& options, const EvalProgress& progress,
                                         const std::atomic<bool>* cancel) {
  auto report_progress = [&](double fraction, const std::map<std::string, double>& figures,
                             const std::string& message) {
    if (progress) progress(fraction, figures, message);
  };
  report_progress(0, {}, "loading " + options.model_path);
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<engine::model::Model> model,
                         engine::model::Model::Load(options.model_path));
  SURGE_ASSIGN_OR_RETURN(std::string text, ReadTextFile(options.text_path));
  const std::vector<int32_t> tokens = TokenizeForEval(model->tokenizer(), text);
  if (tokens.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.text_path, " holds fewer than two tokens to evaluate"));
  }
  EvalReport report;
  report.model_path = options.model_path;
  report.model_name = model->name();
  std::error_code ec;
  report.file_bytes = static_cast<int64_t>(std::filesystem::file_size(options.model_path, ec));

  const double share = options.tg_tokens > 0 ? kPerplexityShare : 1.0;
  PerplexityOptions po{options.threads, options.window, options.max_tokens};
  const base::TimePoint t0 = base::Clock::System().Now();
  auto on_window = [&](int64_t scored, int64_t total, double ppl) {
    const double s = base::ToSeconds(base::Clock::System().Now() - t0);
    report_progress(share * static_cast<double>(scored) / static_cast<double>(total),
                    {{"perplexity", ppl},
                     {"tokens", static_cast<double>(scored)},
                     {"tokens_per_second", s > 0 ? static_cast<double>(scored) / s : 0}},
                    "perplexity");
  };
  SURGE_ASSIGN_OR_RETURN(PerplexityResult p,
                         ComputePerplexity(*model, tokens, po, on_window, cancel));
  report.perplexity = p.perplexity;
  report.nll = p.nll;
  report.tokens = p.tokens;
  report.windows = p.windows;
  report.window = p.window;
  report.stride = p.stride;
  report.eval_seconds = p.seconds;
  report.eval_tokens_per_second = p.tokens_per_second;
  if (options.tg_tokens > 0) {
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("cancelled");
    report_progress(share, {{"perplexity", p.perplexity}}, "generation throughput");
    SURGE_RETURN_IF_ERROR(MeasureThroughput(*model, options, &report));
  }
  return report;
}

Json ToJson(const EvalReport& r) {
  Json j = Json::object();
  j["model"] = r.model_path;
  j["model_name"] = r.model_name;
  j["file_bytes"] = r.file_bytes;
  j["perplexity"] = r.perplexity;
  j["nll"] = r.nll;
  j["tokens"] = r.tokens;
  j["windows"] = r.windows;
  j["window"] = r.window;
  j["stride"] = r.stride;
  j["eval_seconds"] = r.eval_seconds;
  j["eval_tokens_per_second"] = r.eval_tokens_per_second;
  j["tg_tps"] = r.tg_tokens_per_second;
  j["pp_tps"] = r.pp_tokens_per_second;
  j["tg_tokens"] = r.tg_tokens;
  return j;
}

}  // namespace surge::jobs::eval
