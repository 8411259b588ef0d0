// ModelDeployer puts a model file into a running server's registry with
// zero downtime; the deploy job drives it. The jobs module only defines the
// interface: the implementation lives with the server (which jobs may not
// depend on) and is handed to the deploy kind when `surge serve` starts.
//
// Contract of Deploy(): load the file as a new version beside the serving
// one, warm it up (a short generation), check its health (a generation that
// yields tokens with finite log-probabilities, each above a uniform
// guess's: that is how non-finite logits show), switch the public name to it
// in one atomic step, let requests already running on the old version
// finish there (drain), then unload the old one. If the new version fails
// to load or its check fails, nothing is switched: the old version keeps
// serving and Deploy() returns the reason (the rollback). Progress goes to
// `progress` (fraction 0..1, stage); `cancel` is polled before the switch
// (afterwards the deploy completes).
//
// Thread safety: implementations are thread-safe; deploys of one name are
// serialized.
// Errors: NotFound for a missing file, FailedPrecondition when the name is
// busy loading, Unavailable/Internal for load and health-check failures,
// Cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace surge::jobs {

struct DeployRequest {
  std::string name;          // the public model name clients send
  std::string file;          // the new version's GGUF file
  int32_t check_tokens = 8;  // tokens each of warm-up and health check generate
  std::chrono::milliseconds drain_timeout{std::chrono::minutes(10)};
};

struct DeployReport {
  std::string name;
  std::string new_file;
  std::string old_file;  // "" when the name was new
  bool added = false;    // the name did not exist before
  double load_seconds = 0;
  double warmup_seconds = 0;
  double check_seconds = 0;
  double drain_seconds = 0;
  bool drained = true;     // false: the drain timed out and the rest was cancelled
  std::string check_text;  // what the health check generated
};

using DeployProgressFn = std::function<void(double fraction, std::string_view stage)>;

class ModelDeployer {
 public:
  virtual ~ModelDeployer() = default;
  [[nodiscard]] virtual absl::StatusOr<DeployReport> Deploy(const DeployRequest& request,
                                                            const DeployProgressFn& progress,
                                                            const std::atomic<bool>* cancel) = 0;
};

}  // namespace surge::jobs
