// ModelRegistry's loader thread: what to load or unload next under the
// budget and keep-alive deadlines, and the loads and unloads themselves.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/model_registry.h"

namespace surge::server {

void ModelRegistry::LoaderLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const base::TimePoint now = base::Clock::System().Now();
    if (std::optional<Work> work = NextWork(now)) {
      if (work->kind == Work::kUnload) {
        DoUnload(work->entry);
      } else {
        DoLoad(work->entry);
      }
    } else if (outbox_.empty()) {
      // Sleep until something changes or the next keep-alive deadline.
      absl::Duration timeout = absl::InfiniteDuration();
      if (std::optional<base::TimePoint> next = NextExpiry()) {
        timeout = absl::Nanoseconds(std::max<int64_t>(0, (*next - now).count()));
      }
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&woken), timeout);
      wake_ = false;
    }
    RunOutbox();
  }
}

void ModelRegistry::RunOutbox() {
  if (outbox_.empty()) return;
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(outbox_);
  mu_.Unlock();
  for (auto& cb : callbacks) cb();
  callbacks.clear();  // leases dropped by callbacks release without our lock
  mu_.Lock();
}

std::optional<base::TimePoint> ModelRegistry::NextExpiry() const {
  std::optional<base::TimePoint> next;
  for (const auto& [name, e] : entries_) {
    if (e->state == ModelState::kReady && e->leases == 0 && e->expires) {
      if (!next || *e->expires < *next) next = e->expires;
    }
  }
  return next;
}

std::optional<ModelRegistry::Work> ModelRegistry::NextWork(base::TimePoint now) {
  for (const auto& [name, e] : entries_) {
    if (e->leases > 0) continue;
    if (e->state == ModelState::kDraining) return Work{Work::kUnload, e.get()};
    if (e->state == ModelState::kReady && e->expires && *e->expires <= now) {
      SURGE_LOG_INFO("model '{}': idle past its keep_alive, unloading", name);
      return Work{Work::kUnload, e.get()};
    }
  }
  while (!pending_.empty()) {
    Entry* e = pending_.front();
    if (e->state == ModelState::kReady) {  // loaded meanwhile: serve its waiters
      for (LeaseCallback& cb : e->waiters) {
        // The lease moves into the callback: the outbox keeps no copy that
        // would outlive the caller's (and delay the lease's release).
        outbox_.push_back(
            [cb = std::move(cb), lease = NewLease(e)]() mutable { cb(std::move(lease)); });
      }
      e->waiters.clear();
      e->pending = false;
      pending_.pop_front();
      continue;
    }
    if (e->state != ModelState::kUnloaded) return std::nullopt;  // draining: wait for it
    Entry* victim = nullptr;
    switch (PlanLoad(e, &victim)) {
      case Plan::kLoad:
        return Work{Work::kLoad, e};
      case Plan::kUnloadVictim:
        return Work{Work::kUnload, victim};
      case Plan::kWait:
        return std::nullopt;
      case Plan::kFailed:
        continue;  // FailWaiters took it off the queue
    }
  }
  return std::nullopt;
}

bool ModelRegistry::EnsureEstimate(Entry* e) {
  if (e->estimate) return true;
  const ModelSpec spec = e->spec;
  mu_.Unlock();  // reads the file header
  absl::StatusOr<int64_t> estimate = loader_.estimate_bytes(spec);
  mu_.Lock();
  if (!estimate.ok()) {
    e->last_error = std::string(estimate.status().message());
    FailWaiters(e, absl::InternalError(absl::StrCat("the model '", spec.name,
                                                    "' cannot be loaded: ", e->last_error)));
    return false;
  }
  e->estimate = *estimate;
  return true;
}

ModelRegistry::Plan ModelRegistry::PlanLoad(Entry* e, Entry** victim) {
  if (!EnsureEstimate(e)) return Plan::kFailed;
  const int64_t budget = options_.max_memory_bytes;
  const int64_t need = *e->estimate;
  if (budget <= 0 || UsedBytes() + need <= budget) return Plan::kLoad;
  if (need > budget) {
    FailWaiters(e, absl::FailedPreconditionError(absl::StrCat(
                       "the model '", e->spec.name, "' needs ", need,
                       " bytes (weights + KV cache), more than --max-memory (", budget, ")")));
    return Plan::kFailed;
  }
  // Least recently used first: an idle model goes at once, a busy one drains.
  Entry* idle = nullptr;
  Entry* busy = nullptr;
  bool draining = false;
  for (const auto& [name, other] : entries_) {
    Entry* o = other.get();
    if (o->state == ModelState::kDraining) draining = true;
    if (o == e || o->state != ModelState::kReady) continue;
    Entry*& pick = o->leases == 0 ? idle : busy;
    if (pick == nullptr || o->last_used < pick->last_used) pick = o;
  }
  if (idle != nullptr) {
    SURGE_LOG_INFO("model '{}': unloading (idle, least recently used) to make room for '{}'",
                   idle->spec.name, e->spec.name);
    *victim = idle;
    return Plan::kUnloadVictim;
  }
  if (draining) return Plan::kWait;
  if (busy != nullptr) {
    SURGE_LOG_INFO("model '{}': draining {} requests to make room for '{}'", busy->spec.name,
                   busy->leases, e->spec.name);
    busy->state = ModelState::kDraining;
    return Plan::kWait;
  }
  FailWaiters(e, absl::FailedPreconditionError(absl::StrCat("the model '", e->spec.name,
                                                            "' does not fit --max-memory (", budget,
                                                            " bytes) next to the models loading")));
  return Plan::kFailed;
}

void ModelRegistry::DoLoad(Entry* e) {
  pending_.pop_front();  // PlanLoad ran on the queue's head
  e->pending = false;
  e->state = ModelState::kLoading;
  e->bytes = *e->estimate;
  const ModelSpec spec = e->spec;
  mu_.Unlock();
  SURGE_LOG_INFO("model '{}': loading {}", spec.name, spec.path);
  absl::StatusOr<std::unique_ptr<LoadedModel>> loaded = loader_.load(spec);
  mu_.Lock();
  if (!loaded.ok()) {
    e->state = ModelState::kUnloaded;
    e->bytes = 0;
    e->last_error = std::string(loaded.status().message());
    SURGE_LOG_WARN("model '{}': load failed: {}", spec.name, e->last_error);
    FailWaiters(e, absl::InternalError(absl::StrCat("the model '", spec.name,
                                                    "' failed to load: ", e->last_error)));
    return;
  }
  e->loaded = std::shared_ptr<LoadedModel>(std::move(*loaded));
  if (e->loaded->bytes > 0) e->bytes = e->loaded->bytes;
  e->state = ModelState::kReady;
  e->last_error.clear();
  ++e->num_loads;
  const base::TimePoint now = base::Clock::System().Now();
  e->last_used = now;
  if (e->keep_alive.count() >= 0) e->expires = now + e->keep_alive;
  for (LeaseCallback& cb : e->waiters) {
    outbox_.push_back(
        [cb = std::move(cb), lease = NewLease(e)]() mutable { cb(std::move(lease)); });
  }
  e->waiters.clear();
}

void ModelRegistry::DoUnload(Entry* e) {
  std::shared_ptr<LoadedModel> loaded = std::move(e->loaded);
  e->state = ModelState::kUnloaded;
  e->bytes = 0;
  e->expires.reset();
  mu_.Unlock();
  if (loaded && loaded->engine) loaded->engine->Stop();
  loaded.reset();
  mu_.Lock();
  SURGE_LOG_INFO("model '{}': unloaded", e->spec.name);
  if (!e->waiters.empty() && !e->pending) {  // asked for again while draining
    e->pending = true;
    pending_.push_back(e);
  }
}

ModelStatus ModelRegistry::StatusOf(const Entry& e, base::TimePoint now) const {
  ModelStatus s;
  s.name = e.spec.name;
  s.path = e.spec.path;
  s.state = e.state;
  s.bytes = e.bytes;
  s.in_flight = e.leases;
  s.waiting = static_cast<int32_t>(e.waiters.size());
  s.keep_alive = e.keep_alive;
  if (e.leases == 0 && e.last_used != base::TimePoint{}) {
    s.idle_seconds = base::ToSeconds(now - e.last_used);
  }
  if (e.state == ModelState::kReady && e.leases == 0 && e.expires) {
    s.unload_in_seconds = std::max(0.0, base::ToSeconds(*e.expires - now));
  }
  if (e.loaded && e.loaded->engine) s.max_context = e.loaded->engine->max_context();
  s.num_loads = e.num_loads;
  s.last_error = e.last_error;
  return s;
}

std::vector<ModelStatus> ModelRegistry::List() const {
  absl::MutexLock lock(&mu_);
  const base::TimePoint now = base::Clock::System().Now();
  std::vector<ModelStatus> out;
  for (const std::string& name : order_) out.push_back(StatusOf(*entries_.at(name), now));
  return out;
}

void ModelRegistry::ForEachEngine(
    const std::function<void(const std::string&, const engine::Engine&)>& fn) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, e] : entries_) {
    if (e->loaded && e->loaded->engine) fn(name, *e->loaded->engine);
  }
}

}  // namespace surge::server
