// ModelRegistry: the models one `surge serve` hosts, loaded on demand and
// unloaded when idle, under one memory budget.
//
// Model: every known model (name -> GGUF file) is in one state:
//   unloaded --Acquire/Preload--> loading --> ready --(idle past keep_alive,
//   budget, admin)--> draining --(no lease left)--> unloaded
// A request takes a ModelLease, which pins the model (its engine stays up)
// until the lease is dropped. A draining model hands out no new leases;
// requests that arrive meanwhile wait and load it again once it is gone, so
// a model with requests in flight is drained, never cut.
//
// Loading and unloading run on the registry's loader thread, never on the
// caller's (an I/O thread): Acquire() of a model that is not ready queues
// the caller (at most max_waiters per model; more get 503) and calls back
// from the loader thread once the model is up, or with the error.
//
// Budget (max_memory_bytes, 0 = none): a model is charged its estimated
// bytes (GGUF file + KV cache) while loading, ready or draining. Loading one
// that does not fit first unloads idle ready models, least recently used
// first; if none is idle, the least recently used busy one is drained and the
// load waits for it. A model larger than the whole budget fails to load.
//
// keep_alive: after its last lease a model stays loaded for its keep_alive
// (the last request's `keep_alive` if it set one, else the model's, else the
// registry default); negative = forever, 0 = unload as soon as idle.
//
// Ownership: created as a shared_ptr; leases share it, so it outlives them.
// Owns the loaded models (engines) and the loader thread (std::jthread,
// started by Start(), joined by Stop()). The owner calls Stop() before it
// drops its reference: a lease held by a callback may otherwise release the
// last reference on the loader thread, which cannot join itself (checked).
// Thread safety: thread-safe. Callbacks run without the registry's lock held.
// Errors: NotFound (unknown model, code model_not_found), Unavailable (too
// many waiting, shutting down), FailedPrecondition (larger than the budget),
// Internal (the file failed to load; the message says why).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/status.h"
#include "engine/engine.h"
#include "engine/model/chat_template.h"

namespace surge::server {

struct ModelSpec {
  std::string name;                                     // the id clients send as "model"
  std::string path;                                     // the GGUF file
  std::optional<std::chrono::milliseconds> keep_alive;  // unset: the registry default
};

// A loaded model: what a ModelLoader makes of a file.
struct LoadedModel {
  std::unique_ptr<engine::model::Model> model;
  std::unique_ptr<engine::Engine> engine;  // started; destroyed (stopped) before the model
  engine::model::ChatTemplateKind chat_template = engine::model::ChatTemplateKind::kChatML;
  int64_t bytes = 0;  // weights + KV cache
};

// How models are loaded (injected: `surge serve` reads GGUF files, tests fake it).
struct ModelLoader {
  // Bytes the model will take once loaded, from its file header. Cheap.
  std::function<absl::StatusOr<int64_t>(const ModelSpec&)> estimate_bytes;
  // Loads the model and starts its engine. Runs on the loader thread.
  std::function<absl::StatusOr<std::unique_ptr<LoadedModel>>(const ModelSpec&)> load;
};

// The chat template of a model: `override_name` when given ("chatml",
// "llama3", ...), else detected from the GGUF's tokenizer.chat_template,
// else ChatML.
absl::StatusOr<engine::model::ChatTemplateKind> ChooseChatTemplate(
    const engine::model::Model& model, const std::string& override_name);

struct RegistryOptions {
  int64_t max_memory_bytes = 0;  // 0: no budget
  std::chrono::milliseconds default_keep_alive{std::chrono::minutes(5)};
  int32_t max_waiters = 1024;  // per model, requests waiting for it to load
};

enum class ModelState { kUnloaded, kLoading, kReady, kDraining };
const char* ToString(ModelState state);

struct ModelStatus {
  std::string name;
  std::string path;
  ModelState state = ModelState::kUnloaded;
  int64_t bytes = 0;  // charged against the budget (0 when unloaded)
  int32_t in_flight = 0;
  int32_t waiting = 0;
  std::optional<double> idle_seconds;       // since the last lease ended; unset while busy
  std::chrono::milliseconds keep_alive{0};  // in force (negative = forever)
  std::optional<double> unload_in_seconds;  // when idle with a finite keep_alive
  int64_t max_context = 0;                  // when loaded
  int64_t num_loads = 0;
  std::string last_error;
};

class ModelLease;

class ModelRegistry : public std::enable_shared_from_this<ModelRegistry> {
 public:
  using LeaseCallback = std::function<void(absl::StatusOr<std::shared_ptr<ModelLease>>)>;

  static std::shared_ptr<ModelRegistry> Create(RegistryOptions options, ModelLoader loader);
  ~ModelRegistry();

  // Before Start(): names must be unique and non-empty.
  [[nodiscard]] absl::Status Add(ModelSpec spec);
  void Start();
  // Fails every waiter, stops every engine (in-flight requests end as
  // cancelled), joins the loader thread. Idempotent.
  void Stop();

  // Calls `done` exactly once, at once when the model is ready, else from the
  // loader thread when it is (or failed).
  void Acquire(const std::string& name, LeaseCallback done);
  // Loads the model and waits (startup).
  [[nodiscard]] absl::Status Preload(const std::string& name);
  // Starts draining (or unloads at once when idle); returns the state after
  // the call. FailedPrecondition while the model is loading.
  [[nodiscard]] absl::StatusOr<ModelState> Unload(const std::string& name);

  bool Contains(const std::string& name) const;
  // The file `name` points at ("" for an unknown name).
  std::string FileOf(const std::string& name) const;
  std::string default_model() const;  // the first added
  std::vector<ModelStatus> List() const;
  int64_t memory_used_bytes() const;
  int64_t memory_budget_bytes() const { return options_.max_memory_bytes; }
  // fn(name, engine) for each loaded model, under the registry's lock (for
  // metrics: fn must be quick and must not call the registry).
  void ForEachEngine(
      const std::function<void(const std::string&, const engine::Engine&)>& fn) const;

  // Deploys (model_registry_swap.cc, used by server/registry_deployer.h):
  // points `name` at `replacement` (loaded and started by the caller) in one
  // step under the lock, with `path` as its file. Leases taken from then on
  // get the replacement; leases already held keep the old version, which is
  // returned (null if the name was unloaded or new) for the caller to drain
  // and stop. An unknown name is added, ready. FailedPrecondition while the
  // model is loading or draining, Unavailable once stopping.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<LoadedModel>> SwapLoaded(
      const std::string& name, const std::string& path, std::shared_ptr<LoadedModel> replacement);

 private:
  friend class ModelLease;
  struct Entry {
    ModelSpec spec;
    ModelState state = ModelState::kUnloaded;
    std::shared_ptr<LoadedModel> loaded;
    int64_t bytes = 0;  // charged while loading, ready or draining
    std::optional<int64_t> estimate;
    int32_t leases = 0;
    base::TimePoint last_used{};
    std::chrono::milliseconds keep_alive{0};  // in force
    std::optional<base::TimePoint> expires;   // idle deadline; unset: busy or forever
    std::vector<LeaseCallback> waiters;
    bool pending = false;  // in pending_
    int64_t num_loads = 0;
    std::string last_error;
  };
  // What the loader thread does next.
  struct Work {
    enum Kind { kLoad, kUnload } kind;
    Entry* entry;
  };

  ModelRegistry(RegistryOptions options, ModelLoader loader);
  void Release(Entry* entry, std::optional<std::chrono::milliseconds> keep_alive);
  void LoaderLoop();
  std::optional<Work> NextWork(base::TimePoint now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // For the head of the queue: load it, unload a victim first, wait for a
  // drain, or give up (its waiters were failed).
  enum class Plan { kLoad, kUnloadVictim, kWait, kFailed };
  Plan PlanLoad(Entry* e, Entry** victim) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the model's size from its file once (the lock is released
  // meanwhile); false: the file is unusable and the waiters were failed.
  bool EnsureEstimate(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunOutbox() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DoUnload(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DoLoad(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailWaiters(Entry* e, const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<ModelLease> NewLease(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Entry* Find(const std::string& name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<base::TimePoint> NextExpiry() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t UsedBytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ModelStatus StatusOf(const Entry& e, base::TimePoint now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RegistryOptions options_;
  const ModelLoader loader_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // names, as added
  std::deque<Entry*> pending_ ABSL_GUARDED_BY(mu_);      // loads asked for, FIFO
  // Callbacks to run once the lock is released (loader thread).
  std::vector<std::function<void()>> outbox_ ABSL_GUARDED_BY(mu_);
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::jthread loader_thread_;
};

// Pins one loaded model while a request uses it.
class ModelLease {
 public:
  ModelLease(std::shared_ptr<ModelRegistry> registry, ModelRegistry::Entry* entry,
             std::shared_ptr<LoadedModel> model, std::string name)
      : registry_(std::move(registry)),
        entry_(entry),
        model_(std::move(model)),
        name_(std::move(name)) {}
  ~ModelLease();
  ModelLease(const ModelLease&) = delete;
  ModelLease& operator=(const ModelLease&) = delete;

  engine::Engine& engine() const { return *model_->engine; }
  const LoadedModel& model() const { return *model_; }
  const std::string& name() const { return name_; }
  // The keep_alive to apply when this lease ends (a request's own).
  void set_keep_alive(std::optional<std::chrono::milliseconds> k) { keep_alive_ = k; }

 private:
  std::shared_ptr<ModelRegistry> registry_;
  ModelRegistry::Entry* entry_;  // the registry's record of the model
  std::shared_ptr<LoadedModel> model_;
  std::string name_;
  std::optional<std::chrono::milliseconds> keep_alive_;
};

}  // namespace surge::server
