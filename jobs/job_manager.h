// JobManager runs model jobs (train, eval, quantize, deploy, ...) beside
// serving: it accepts them, queues them by priority, runs a bounded number at
// once, each on a thread of its own, lets callers follow and cancel them,
// and keeps them on disk so a restart never loses one.
//
// Model: Submit() validates the spec with its kind and queues the job.
// The dispatcher starts queued jobs, lowest priority value first (then in
// submission order), while fewer than max_jobs run. A job's thread takes a
// nice value from its priority (base_nice + priority, Linux per-thread
// nice, inherited by the compute threads the job starts) so the serving
// threads, at nice 0, win the CPU; the job's compute budget is spec.threads.
// Cancel(): a queued job is cancelled at once, a running one when its kind
// next polls the flag. Subscribe(): an event stream that first replays the
// job as it is now.
// Serving first, twice: the nice value, and (with serving_busy) a job
// waits at its progress reports while requests are in flight, up to
// max_yield at a time (see JobManagerOptions).
// Restart: with a state dir, every change of state is written at once (and
// progress every save_interval). Create() reads the dir back: queued jobs
// queue again; jobs found running were interrupted, and run again if their
// kind is resumable (attempt + 1) or are marked failed "interrupted by
// restart". Stop() interrupts running jobs the same way (their files still
// say running), so a clean shutdown and a crash resume alike.
//
// Ownership: owns the kinds, the dispatcher thread and the jobs' threads
// (std::jthread, started by Start(), joined by Stop()).
// Without a state dir, work dirs go under a fresh temporary dir, made for
// the first job and kept (it may hold the jobs' outputs).
// Thread safety: thread-safe. Event notifiers run without the manager's
// lock held.
// Errors: Submit: InvalidArgument (bad spec, unknown kind, the kind's
// Validate), Unavailable (stopped, or the state could not be written).
// Get/Cancel/Subscribe: NotFound for an unknown id; Cancel of a finished job
// FailedPrecondition.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/status.h"
#include "jobs/job.h"
#include "jobs/job_events.h"
#include "jobs/job_kind.h"
#include "jobs/job_store.h"

namespace surge::jobs {

struct JobManagerOptions {
  int max_jobs = 2;       // running at once
  std::string state_dir;  // "": nothing persisted, work dirs in a fresh temporary dir
  bool nice_threads = true;
  int base_nice = 10;  // nice of a priority-0 job; priority p gets base_nice + p (at most 19)
  std::chrono::milliseconds progress_interval{200};  // progress events per job, at most
  std::chrono::milliseconds save_interval{5000};     // progress written to disk, at most
  // Serving first: while serving_busy() is true (requests in flight), a job
  // thread waits at its next progress report (kinds report between steps),
  // at most max_yield each time, so requests get the CPU and a busy server
  // slows jobs down without starving them. Empty: jobs never wait.
  std::function<bool()> serving_busy;
  std::chrono::milliseconds max_yield{200};
};

class JobManager {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JobManager>> Create(
      JobManagerOptions options, std::vector<std::unique_ptr<JobKind>> kinds);
  ~JobManager();  // Stop()s
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  void Start();
  // Interrupts running jobs (their kinds see the cancel flag; their state
  // stays "running" on disk for the next start), joins every thread.
  // Queued jobs stay queued. Idempotent.
  void Stop();

  [[nodiscard]] absl::StatusOr<JobInfo> Submit(JobSpec spec);
  std::vector<JobInfo> List() const;  // by submission order
  [[nodiscard]] absl::StatusOr<JobInfo> Get(const std::string& id) const;
  [[nodiscard]] absl::StatusOr<JobInfo> Cancel(const std::string& id);
  [[nodiscard]] absl::StatusOr<std::shared_ptr<JobEventStream>> Subscribe(const std::string& id);
  // Blocks until the job ends or `timeout` passes (then returns it as it is).
  [[nodiscard]] absl::StatusOr<JobInfo> Wait(const std::string& id,
                                             absl::Duration timeout = absl::InfiniteDuration());

  std::vector<std::string> kind_names() const;
  int num_running() const;

 private:
  struct Job;
  // Streams to notify and job files to write once the lock is released.
  struct PendingSave {
    Job* job;
    JobInfo info;
    uint64_t version;  // per job; an older snapshot never overwrites a newer one
  };
  struct Outbox {
    std::vector<std::shared_ptr<JobEventStream>> notify;
    std::vector<PendingSave> save;
  };

  explicit JobManager(JobManagerOptions options);
  absl::Status Recover();
  const JobKind* FindKind(const std::string& name) const;
  void DispatchLoop();
  Job* NextRunnable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartJob(Job* job, Outbox* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunJob(Job* job, JobContext& ctx);
  void Finish(Job* job, const absl::StatusOr<Json>& result, Outbox* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnProgress(Job* job, const JobProgress& progress);
  void YieldToServing(const Job* job) const;
  void Publish(Job* job, JobEvent::Type type, Outbox* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueSave(Job* job, Outbox* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Flush(Outbox& out) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::string> WorkDir(const std::string& id);
  Job* Find(const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t Now() const;

  const JobManagerOptions options_;
  std::map<std::string, std::unique_ptr<JobKind>> kinds_;
  std::optional<JobStore> store_;
  absl::Mutex temp_mu_;
  std::string temp_root_ ABSL_GUARDED_BY(temp_mu_);  // work dirs without a store; made on first use

  mutable absl::Mutex mu_;
  std::map<uint64_t, std::unique_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);  // by seq
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::jthread dispatcher_;
};

}  // namespace surge::jobs
