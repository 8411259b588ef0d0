#include "tools/surge/serve_jobs.h"

#include "jobs/builtin_kinds.h"
#include "jobs/jobs_api.h"
#include "server/registry_deployer.h"

namespace surge::cli {

// jobs::ModelDeployer on top of the server's RegistryDeployer.
class ServeJobs::Deployer final : public jobs::ModelDeployer {
 public:
  Deployer(std::shared_ptr<server::ModelRegistry> registry, server::ModelLoader loader)
      : impl_(std::move(registry), std::move(loader)) {}

  absl::StatusOr<jobs::DeployReport> Deploy(const jobs::DeployRequest& request,
                                            const jobs::DeployProgressFn& progress,
                                            const std::atomic<bool>* cancel) override {
    server::DeployOptions o{request.name, request.file, request.check_tokens,
                            request.drain_timeout};
    SURGE_ASSIGN_OR_RETURN(server::DeployOutcome out, impl_.Deploy(o, progress, cancel));
    jobs::DeployReport r;
    r.name = request.name;
    r.new_file = request.file;
    r.old_file = out.old_file;
    r.added = out.added;
    r.load_seconds = out.load_seconds;
    r.warmup_seconds = out.warmup_seconds;
    r.check_seconds = out.check_seconds;
    r.drain_seconds = out.drain_seconds;
    r.drained = out.drained;
    r.check_text = out.check_text;
    return r;
  }

 private:
  server::RegistryDeployer impl_;
};

void AddJobsFlags(CLI::App& app, JobsFlags* flags) {
  app.add_option("--jobs-dir", flags->jobs_dir,
                 "keep jobs (train, eval, quantize, deploy) and their files here, so a restart "
                 "resumes or reports them; default: a temporary dir, not kept")
      ->envname("SURGE_JOBS_DIR");
  app.add_option("--max-jobs", flags->max_jobs, "jobs running at once (the rest wait in line)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->envname("SURGE_MAX_JOBS");
}

absl::StatusOr<std::unique_ptr<ServeJobs>> ServeJobs::Create(
    const JobsFlags& flags, std::shared_ptr<server::ModelRegistry> registry,
    server::ModelLoader loader) {
  std::unique_ptr<ServeJobs> s(new ServeJobs());
  s->deployer_ = std::make_unique<Deployer>(std::move(registry), std::move(loader));
  jobs::JobManagerOptions o;
  o.max_jobs = flags.max_jobs;
  o.state_dir = flags.jobs_dir;
  ServeJobs* self = s.get();
  o.serving_busy = [self] {
    const std::atomic<int64_t>* in_flight = self->in_flight_.load();
    return in_flight != nullptr && in_flight->load(std::memory_order_relaxed) > 0;
  };
  SURGE_ASSIGN_OR_RETURN(s->manager_,
                         jobs::JobManager::Create(o, jobs::BuiltinKinds(s->deployer_.get())));
  return s;
}

ServeJobs::~ServeJobs() { Stop(); }

server::RouteHook ServeJobs::RouteHook() {
  return [this](server::http::HttpServer& http, const server::RouteGuards& guards) {
    jobs::RegisterJobRoutes(http, *manager_, {guards.admin, guards.user});
  };
}

void ServeJobs::Start(const std::atomic<int64_t>* in_flight) {
  in_flight_.store(in_flight);
  manager_->Start();
}

void ServeJobs::Stop() {
  if (manager_) manager_->Stop();
}

}  // namespace surge::cli
