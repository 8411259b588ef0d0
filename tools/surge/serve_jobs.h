// The job framework inside `surge serve` (--jobs-dir, --max-jobs): a
// JobManager with the built-in kinds, deploy going through the server's
// RegistryDeployer, and the job API on the server's routes (admin key for
// POST, an API key or the admin key for GET).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "base/status.h"
#include "jobs/job_manager.h"
#include "server/api_server.h"
#include "server/model_registry.h"

namespace surge::cli {

struct JobsFlags {
  std::string jobs_dir;  // "": jobs are not kept across restarts
  int max_jobs = 2;
};

// Adds --jobs-dir and --max-jobs to `surge serve`.
void AddJobsFlags(CLI::App& app, JobsFlags* flags);

class ServeJobs {
 public:
  // `loader` loads deployed versions; pass the registry's own.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ServeJobs>> Create(
      const JobsFlags& flags, std::shared_ptr<server::ModelRegistry> registry,
      server::ModelLoader loader);
  ~ServeJobs();

  // For ApiOptions::extra_routes. The routes borrow this object.
  server::RouteHook RouteHook();
  // `in_flight`: the server's count of requests in flight; jobs yield to them
  // at their progress reports (JobManagerOptions::serving_busy).
  void Start(const std::atomic<int64_t>* in_flight);
  // Interrupts running jobs (resumable ones continue at the next start).
  void Stop();

 private:
  class Deployer;
  ServeJobs() = default;

  std::atomic<const std::atomic<int64_t>*> in_flight_{nullptr};
  std::unique_ptr<Deployer> deployer_;
  std::unique_ptr<jobs::JobManager> manager_;
};

}  // namespace surge::cli
