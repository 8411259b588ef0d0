// RunBench: a whole `surge bench` run, from a validated configuration to the
// report. The command-line front end is tools/surge/bench_command.cc.
#pragma once

#include <atomic>

#include "absl/status/statusor.h"
#include "bench/load/config.h"
#include "bench/load/progress.h"
#include "bench/load/report.h"

namespace surge::bench {

// Order of work: for each target, the model (--model, else the first id of
// GET /v1/models; if that fails, requests carry no model) and whether it has
// usable /metrics; then warm-up requests per target; then level by level,
// target A then target B (levels interleaved, so drift on the machine affects
// both alike), each level framed by /metrics scrapes.
//
// Errors: a configuration ValidateConfig() refuses, an unreadable dataset.
// An unreachable or failing server is not an error: its requests are counted
// as errors in the report. When `stop` turns true the running level ends at
// once (its in-flight requests cancelled) and the report covers what ran.
//
// Thread safety: runs on the calling thread; `stop` may be set from a signal
// handler. `display` may be null.
absl::StatusOr<BenchReport> RunBench(const BenchConfig& config, const std::atomic<bool>* stop,
                                     ProgressDisplay* display);

}  // namespace surge::bench
