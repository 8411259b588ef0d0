// RegistryDeployer replaces the model behind a public name while the server
// keeps answering (the deploy job's work, wired in by `surge serve`):
//
//   load the new file beside the serving version -> warm up (a short greedy
//   generation) -> health check (a generation that yields tokens, each with
//   a finite log-probability above a uniform guess's: the engine's sampler
//   turns NaN logits into a uniform distribution, so this is how non-finite
//   logits show through the facade) -> ModelRegistry::SwapLoaded (one step under
//   the registry's lock) -> verify that a new lease gets the new version ->
//   drain (requests already running on the old version finish there) ->
//   stop the old engine.
//
// Cancel: before the switch it leaves everything as it was; after it, it
// only cuts the drain short (the old version's requests are cancelled).
// Rollback: any failure before the switch leaves the old version serving,
// untouched; a failed verification after it points the name back at the
// old version. Either way Deploy() returns the reason.
// Memory: both versions are resident during a deploy; the registry's
// budget is not checked for the newcomer.
//
// Ownership: shares the registry; owns nothing else between deploys.
// Thread safety: thread-safe; deploys run one at a time.
// Errors: NotFound (no such file), Internal (the file fails to load),
// FailedPrecondition (health check failed; the name is loading or
// draining), Cancelled (before the switch), Unavailable (shutting down).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "base/status.h"
#include "server/model_registry.h"

namespace surge::server {

struct DeployOptions {
  std::string name;
  std::string file;
  int32_t check_tokens = 8;
  std::chrono::milliseconds drain_timeout{std::chrono::minutes(10)};
};

struct DeployOutcome {
  std::string old_file;  // "" when the name was new or not loaded
  bool added = false;
  double load_seconds = 0;
  double warmup_seconds = 0;
  double check_seconds = 0;
  double drain_seconds = 0;
  bool drained = true;
  std::string check_text;
};

class RegistryDeployer {
 public:
  using Progress = std::function<void(double fraction, std::string_view stage)>;

  // `loader` loads the new versions (the same one the registry uses).
  RegistryDeployer(std::shared_ptr<ModelRegistry> registry, ModelLoader loader);

  [[nodiscard]] absl::StatusOr<DeployOutcome> Deploy(const DeployOptions& options,
                                                     const Progress& progress,
                                                     const std::atomic<bool>* cancel);

 private:
  // Swaps `fresh` in and checks a new lease gets it; on failure points the
  // name back at the old version. *installed: `fresh` is in the registry.
  absl::Status SwitchAndVerify(const DeployOptions& options,
                               const std::shared_ptr<LoadedModel>& fresh,
                               std::shared_ptr<LoadedModel>* old, DeployOutcome* out,
                               bool* installed);

  std::shared_ptr<ModelRegistry> registry_;
  ModelLoader loader_;
  absl::Mutex deploy_mu_;  // one deploy at a time
};

// A short greedy generation on `model`'s engine: its text, or an error when
// it yields no token, fails, or a token's log-probability is not finite or
// no higher than a uniform guess's (-log vocab size).
[[nodiscard]] absl::StatusOr<std::string> CheckGeneration(const LoadedModel& model,
                                                          int32_t max_tokens);

}  // namespace surge::server
