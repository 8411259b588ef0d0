// ModelRegistry::SwapLoaded: the atomic step of a zero-downtime deploy (the
// rest, loading, checking and draining, is server/registry_deployer.cc).
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/model_registry.h"

namespace surge::server {

absl::StatusOr<std::shared_ptr<LoadedModel>> ModelRegistry::SwapLoaded(
    const std::string& name, const std::string& path, std::shared_ptr<LoadedModel> replacement) {
  if (replacement == nullptr || replacement->engine == nullptr) {
    return absl::InvalidArgumentError("a replacement model must be loaded");
  }
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  Entry* e = Find(name);
  if (e == nullptr) {
    auto added = std::make_unique<Entry>();
    added->spec = ModelSpec{name, path, std::nullopt};
    added->keep_alive = options_.default_keep_alive;
    e = added.get();
    order_.push_back(name);
    entries_.emplace(name, std::move(added));
  }
  if (e->state == ModelState::kLoading || e->state == ModelState::kDraining) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the model '", name, "' is ", ToString(e->state), "; deploy again once it is ready"));
  }
  std::shared_ptr<LoadedModel> old = std::move(e->loaded);
  e->loaded = std::move(replacement);
  e->spec.path = path;
  e->bytes = e->loaded->bytes;
  e->estimate = e->loaded->bytes;
  e->last_error.clear();
  ++e->num_loads;
  if (e->state == ModelState::kUnloaded) {
    e->state = ModelState::kReady;
    const base::TimePoint now = base::Clock::System().Now();
    e->last_used = now;
    if (e->leases == 0 && e->keep_alive.count() >= 0) e->expires = now + e->keep_alive;
    // Requests waiting for a load are served by the loader thread's next round.
  }
  wake_ = true;
  SURGE_LOG_INFO("model '{}': now serving {} ({} requests still on the previous version)", name,
                 path, e->leases);
  return old;
}

}  // namespace surge::server
