#include "server/model_registry.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/check.h"
#include "base/logging.h"
#include "server/openai/errors.h"

namespace surge::server {

using std::chrono::milliseconds;

const char* ToString(ModelState state) {
  switch (state) {
    case ModelState::kUnloaded:
      return "unloaded";
    case ModelState::kLoading:
      return "loading";
    case ModelState::kReady:
      return "ready";
    case ModelState::kDraining:
      return "draining";
  }
  return "unknown";
}

absl::StatusOr<engine::model::ChatTemplateKind> ChooseChatTemplate(
    const engine::model::Model& model, const std::string& override_name) {
  if (!override_name.empty()) {
    auto kind = engine::model::ChatTemplateFromName(override_name);
    if (!kind) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown --chat-template '", override_name,
                       "' (known: chatml, llama2, llama3, mistral, gemma, phi3, zephyr)"));
    }
    return *kind;
  }
  absl::StatusOr<std::string> src = model.file().GetString("tokenizer.chat_template");
  if (!src.ok()) return engine::model::ChatTemplateKind::kChatML;
  return engine::model::DetectChatTemplate(*src).value_or(engine::model::ChatTemplateKind::kChatML);
}

ModelLease::~ModelLease() {
  model_.reset();  // the registry's own reference is then the last one
  registry_->Release(entry_, keep_alive_);
}

std::shared_ptr<ModelRegistry> ModelRegistry::Create(RegistryOptions options, ModelLoader loader) {
  return std::shared_ptr<ModelRegistry>(new ModelRegistry(std::move(options), std::move(loader)));
}

ModelRegistry::ModelRegistry(RegistryOptions options, ModelLoader loader)
    : options_(std::move(options)), loader_(std::move(loader)) {}

ModelRegistry::~ModelRegistry() {
  SURGE_CHECK_MSG(std::this_thread::get_id() != loader_thread_.get_id(),
                  "the last reference to the ModelRegistry went away on its loader thread; its "
                  "owner must call Stop() first");
  Stop();
}

absl::Status ModelRegistry::Add(ModelSpec spec) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("models are added before Start()");
  if (spec.name.empty()) return absl::InvalidArgumentError("a model name must not be empty");
  if (entries_.contains(spec.name)) {
    return absl::InvalidArgumentError(absl::StrCat("model '", spec.name, "' is named twice"));
  }
  auto e = std::make_unique<Entry>();
  e->spec = spec;
  e->keep_alive = spec.keep_alive.value_or(options_.default_keep_alive);
  order_.push_back(spec.name);
  entries_.emplace(spec.name, std::move(e));
  return absl::OkStatus();
}

void ModelRegistry::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  loader_thread_ = std::jthread([this] { LoaderLoop(); });
}

void ModelRegistry::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (loader_thread_.joinable()) loader_thread_.join();
  std::vector<std::shared_ptr<LoadedModel>> loaded;
  std::vector<std::function<void()>> callbacks;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [name, e] : entries_) {
      FailWaiters(e.get(), absl::UnavailableError("the server is shutting down"));
      if (e->loaded) loaded.push_back(std::move(e->loaded));
      e->state = ModelState::kUnloaded;
      e->bytes = 0;
    }
    callbacks.swap(outbox_);
  }
  for (auto& cb : callbacks) cb();
  // In-flight requests end (cancelled); their leases keep the objects alive.
  for (auto& m : loaded) {
    if (m->engine) m->engine->Stop();
  }
}

ModelRegistry::Entry* ModelRegistry::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.get();
}

bool ModelRegistry::Contains(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  return Find(name) != nullptr;
}

std::string ModelRegistry::FileOf(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  const Entry* e = Find(name);
  return e == nullptr ? "" : e->spec.path;
}

std::string ModelRegistry::default_model() const {
  absl::MutexLock lock(&mu_);
  return order_.empty() ? "" : order_.front();
}

std::shared_ptr<ModelLease> ModelRegistry::NewLease(Entry* e) {
  ++e->leases;
  e->expires.reset();
  return std::make_shared<ModelLease>(shared_from_this(), e, e->loaded, e->spec.name);
}

void ModelRegistry::Acquire(const std::string& name, LeaseCallback done) {
  absl::StatusOr<std::shared_ptr<ModelLease>> result;
  {
    absl::MutexLock lock(&mu_);
    Entry* e = Find(name);
    if (e == nullptr) {
      result = openai::WithErrorCode(
          absl::NotFoundError(absl::StrCat("the model '", name, "' does not exist")),
          "model_not_found");
    } else if (stopping_) {
      result = absl::UnavailableError("the server is shutting down");
    } else if (e->state == ModelState::kReady) {
      result = NewLease(e);
    } else if (static_cast<int32_t>(e->waiters.size()) >= options_.max_waiters) {
      result = openai::WithErrorCode(absl::UnavailableError(absl::StrCat(
                                         "the model '", name, "' is ", ToString(e->state), " and ",
                                         e->waiters.size(), " requests already wait for it")),
                                     "model_loading");
    } else {
      e->waiters.push_back(std::move(done));
      if (!e->pending && e->state == ModelState::kUnloaded) {
        e->pending = true;
        pending_.push_back(e);
      }
      wake_ = true;
      return;
    }
  }
  done(std::move(result));
}

absl::Status ModelRegistry::Preload(const std::string& name) {
  absl::Notification loaded;
  absl::Status status;
  Acquire(name, [&](absl::StatusOr<std::shared_ptr<ModelLease>> lease) {
    status = lease.status();
    lease = absl::UnknownError("");  // drop the lease before notifying
    loaded.Notify();
  });
  loaded.WaitForNotification();
  return status;
}

absl::StatusOr<ModelState> ModelRegistry::Unload(const std::string& name) {
  absl::MutexLock lock(&mu_);
  Entry* e = Find(name);
  if (e == nullptr) {
    return openai::WithErrorCode(
        absl::NotFoundError(absl::StrCat("the model '", name, "' does not exist")),
        "model_not_found");
  }
  if (e->state == ModelState::kLoading) {
    return absl::FailedPreconditionError(
        absl::StrCat("the model '", name, "' is loading; unload it once it is ready"));
  }
  if (e->state == ModelState::kReady) {
    e->state = ModelState::kDraining;
    SURGE_LOG_INFO("model '{}': draining ({} in flight), asked by the admin API", name, e->leases);
    wake_ = true;
  }
  return e->state;
}

void ModelRegistry::Release(Entry* e, std::optional<milliseconds> keep_alive) {
  absl::MutexLock lock(&mu_);
  --e->leases;
  const base::TimePoint now = base::Clock::System().Now();
  e->last_used = now;
  e->keep_alive = keep_alive.value_or(e->spec.keep_alive.value_or(options_.default_keep_alive));
  if (e->leases == 0) {
    if (e->keep_alive.count() >= 0) e->expires = now + e->keep_alive;
    wake_ = true;
  }
}

void ModelRegistry::FailWaiters(Entry* e, const absl::Status& status) {
  for (LeaseCallback& cb : e->waiters) {
    outbox_.push_back([cb = std::move(cb), status] { cb(status); });
  }
  e->waiters.clear();
  if (e->pending) {
    pending_.erase(std::find(pending_.begin(), pending_.end(), e));
    e->pending = false;
  }
}

int64_t ModelRegistry::UsedBytes() const {
  int64_t used = 0;
  for (const auto& [name, e] : entries_) used += e->bytes;
  return used;
}

int64_t ModelRegistry::memory_used_bytes() const {
  absl::MutexLock lock(&mu_);
  return UsedBytes();
}

}  // namespace surge::server
