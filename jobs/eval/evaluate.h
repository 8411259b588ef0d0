// EvaluateModel is the eval job's work, also used by the quantize job:
// perplexity of a GGUF model on a held-out text file (see perplexity.h),
// then generation throughput (tokens/s of single-sequence decoding, and
// prompt processing, measured on the runner as `surge run --bench` does).
//
// Thread safety: a function of its inputs; uses options.threads compute
// threads.
// Errors: the model's or the file's load error (naming the path), an empty
// text, and ComputePerplexity's (Cancelled when `cancel` is set).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "base/status.h"
#include "jobs/job.h"

namespace surge::jobs::eval {

struct EvalOptions {
  std::string model_path;
  std::string text_path;  // the held-out text (UTF-8)
  int threads = 1;
  int64_t window = 0;      // perplexity window, 0: the model's context
  int64_t max_tokens = 0;  // tokens to score at most, 0: all
  int64_t tg_tokens = 64;  // tokens generated for the throughput figure, 0: skip it
};

struct EvalReport {
  std::string model_path;
  std::string model_name;
  int64_t file_bytes = 0;
  double perplexity = 0;
  double nll = 0;  // mean, nats per token
  int64_t tokens = 0;
  int64_t windows = 0;
  int64_t window = 0;
  int64_t stride = 0;
  double eval_seconds = 0;
  double eval_tokens_per_second = 0;
  double tg_tokens_per_second = 0;  // 0 when skipped
  double pp_tokens_per_second = 0;
  int64_t tg_tokens = 0;
};

// fraction of this evaluation (0..1), the figures so far, what it does now.
using EvalProgress = std::function<void(double fraction, const std::map<std::string, double>&,
                                        const std::string& message)>;

[[nodiscard]] absl::StatusOr<EvalReport> EvaluateModel(const EvalOptions& options,
                                                       const EvalProgress& progress,
                                                       const std::atomic<bool>* cancel);

// The report as the eval job's result: {model, model_name, file_bytes,
// perplexity, nll, tokens, windows, window, stride, eval_seconds,
// eval_tokens_per_second, tg_tps, pp_tps, tg_tokens}.
Json ToJson(const EvalReport& report);

// Reads a whole text file (at most 1 GiB), for the held-out text.
[[nodiscard]] absl::StatusOr<std::string> ReadTextFile(const std::string& path);

}  // namespace surge::jobs::eval
