#include "server/registry_deployer.h"

#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/clock.h"
#include "base/logging.h"

namespace surge::server {
namespace {

constexpr absl::Duration kCheckTimeout = absl::Seconds(120);
constexpr char kCheckPrompt[] = "The quick brown fox";

double SecondsSince(base::TimePoint t0) {
  return base::ToSeconds(base::Clock::System().Now() - t0);
}

void StopModel(const std::shared_ptr<LoadedModel>& m) {
  if (m != nullptr && m->engine != nullptr) m->engine->Stop();
}

// Waits until only `old` itself holds the old version (every lease taken
// before the switch has ended), or the timeout, or a cancel (shutdown).
bool Drain(const std::shared_ptr<LoadedModel>& old, std::chrono::milliseconds timeout,
           const std::atomic<bool>* cancel) {
  const base::TimePoint deadline = base::Clock::System().Now() + timeout;
  while (old.use_count() > 1) {
    if (base::Clock::System().Now() >= deadline) return false;
    if (cancel != nullptr && cancel->load()) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// A lease on `name`, taken the way requests take theirs.
absl::StatusOr<std::shared_ptr<ModelLease>> Lease(ModelRegistry& registry,
                                                  const std::string& name) {
  absl::Notification done;
  absl::StatusOr<std::shared_ptr<ModelLease>> out;
  registry.Acquire(name, [&](absl::StatusOr<std::shared_ptr<ModelLease>> lease) {
    out = std::move(lease);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(kCheckTimeout)) {
    return absl::DeadlineExceededError("timed out waiting for a lease");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> CheckGeneration(const LoadedModel& model, int32_t max_tokens) {
  const engine::model::Tokenizer& tok = model.model->tokenizer();
  engine::GenerationRequest request;
  request.prompt = tok.Encode(kCheckPrompt, /*add_special=*/true, /*parse_special=*/false);
  if (request.prompt.empty()) request.prompt.push_back(std::max(0, tok.bos_id()));
  request.max_tokens = max_tokens;
  request.sampling.temperature = 0;
  request.ignore_eos = true;
  request.logprobs = true;
  // The sampler turns non-finite logits into a uniform distribution, so a
  // broken model shows as greedy tokens no likelier than a uniform guess.
  const double uniform = -std::log(static_cast<double>(tok.vocab_size()));
  SURGE_ASSIGN_OR_RETURN(engine::RequestHandle handle, model.engine->Submit(std::move(request)));
  std::string text;
  int32_t tokens = 0;
  std::optional<engine::FinishReason> finish;
  std::string error;
  while (std::optional<engine::TokenStream::Item> item = handle.stream->Next(kCheckTimeout)) {
    if (item->summary) break;
    const engine::TokenEvent& e = *item->event;
    text += e.text;
    tokens += static_cast<int32_t>(e.tokens.size());
    for (float lp : e.logprobs) {
      if (!std::isfinite(lp)) {
        return absl::FailedPreconditionError("health check: a log-probability is not finite");
      }
      if (lp <= uniform + 1e-4) {
        return absl::FailedPreconditionError(
            "health check: the logits are not finite or carry no information (the greedy token "
            "is no likelier than a uniform guess)");
      }
    }
    if (e.finish) {
      finish = e.finish;
      error = e.error;
    }
  }
  if (!finish) return absl::FailedPreconditionError("health check: the generation did not end");
  if (*finish != engine::FinishReason::kLength && *finish != engine::FinishReason::kStop) {
    return absl::FailedPreconditionError(absl::StrCat("health check: the generation ended with ",
                                                      engine::ToString(*finish), " ", error));
  }
  if (tokens == 0) return absl::FailedPreconditionError("health check: no token was generated");
  return text;
}

RegistryDeployer::RegistryDeployer(std::shared_ptr<ModelRegistry> registry, ModelLoader loader)
    : registry_(std::move(registry)), loader_(std::move(loader)) {}

absl::StatusOr<DeployOutcome> RegistryDeployer::Deploy(const DeployOptions& options,
                                                       const Progress& progress,
                                                       const std::atomic<bool>* cancel) {
  absl::MutexLock one_at_a_time(&deploy_mu_);
  auto report = [&](double f, std::string_view stage) {
    if (progress) progress(f, stage);
  };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.file, ec)) {
    return absl::NotFoundError(absl::StrCat("deploy: no model file ", options.file));
  }
  DeployOutcome out;
  report(0.0, "loading the new version");
  base::TimePoint t0 = base::Clock::System().Now();
  absl::StatusOr<std::unique_ptr<LoadedModel>> loaded = loader_.load({options.name, options.file});
  if (!loaded.ok()) {
    return absl::InternalError(absl::StrCat("deploy: the new version failed to load (",
                                            loaded.status().message(), "); nothing changed"));
  }
  std::shared_ptr<LoadedModel> fresh(*std::move(loaded));
  out.load_seconds = SecondsSince(t0);

  report(0.3, "warming up");
  t0 = base::Clock::System().Now();
  absl::StatusOr<std::string> check = CheckGeneration(*fresh, options.check_tokens);  // warm-up
  out.warmup_seconds = SecondsSince(t0);
  if (check.ok()) {
    report(0.45, "health check");
    t0 = base::Clock::System().Now();
    check = CheckGeneration(*fresh, options.check_tokens);
    out.check_seconds = SecondsSince(t0);
  }
  if (!check.ok()) {
    StopModel(fresh);
    return absl::FailedPreconditionError(
        absl::StrCat("deploy: the new version failed its health check (", check.status().message(),
                     "); rolled back, the old version keeps serving"));
  }
  out.check_text = *check;
  if (cancel != nullptr && cancel->load()) {
    StopModel(fresh);
    return absl::CancelledError("deploy cancelled before the switch; nothing changed");
  }

  report(0.6, "switching");
  std::shared_ptr<LoadedModel> old;
  bool installed = false;
  if (absl::Status s = SwitchAndVerify(options, fresh, &old, &out, &installed); !s.ok()) {
    if (!installed) StopModel(fresh);
    return s;
  }
  report(0.7, "draining the old version");
  t0 = base::Clock::System().Now();
  if (old != nullptr) {
    out.drained = Drain(old, options.drain_timeout, cancel);
    if (!out.drained) {
      SURGE_LOG_WARN(
          "deploy '{}': stopped waiting for the old version's requests; cancelling "
          "them",
          options.name);
    }
    StopModel(old);
  }
  out.drain_seconds = SecondsSince(t0);
  report(1.0, "done");
  return out;
}

absl::Status RegistryDeployer::SwitchAndVerify(const DeployOptions& options,
                                               const std::shared_ptr<LoadedModel>& fresh,
                                               std::shared_ptr<LoadedModel>* old,
                                               DeployOutcome* out, bool* installed) {
  std::string old_file;
  out->added = true;
  for (const ModelStatus& m : registry_->List()) {
    if (m.name != options.name) continue;
    out->added = false;
    if (m.state == ModelState::kReady) old_file = m.path;
  }
  SURGE_ASSIGN_OR_RETURN(*old, registry_->SwapLoaded(options.name, options.file, fresh));
  *installed = true;
  if (*old != nullptr) out->old_file = old_file;
  // The next request must land on the new version.
  absl::StatusOr<std::shared_ptr<ModelLease>> lease = Lease(*registry_, options.name);
  if (lease.ok() && &(*lease)->model() == fresh.get()) return absl::OkStatus();
  const std::string why =
      lease.ok() ? "a new lease got another version" : std::string(lease.status().message());
  lease = absl::UnknownError("");  // drop it before switching back
  if (*old != nullptr) {
    absl::StatusOr<std::shared_ptr<LoadedModel>> back =
        registry_->SwapLoaded(options.name, old_file, *old);
    *installed = !back.ok();
    if (back.ok()) {
      old->reset();
      return absl::InternalError(
          absl::StrCat("deploy: verification after the switch failed (", why, "); rolled back"));
    }
  }
  return absl::InternalError(absl::StrCat("deploy: verification after the switch failed (", why,
                                          "); the new version stays, no old one to restore"));
}

}  // namespace surge::server
