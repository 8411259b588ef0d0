// JobKind is one kind of model task the JobManager runs (train, eval,
// quantize, deploy, or a test's own): it checks a job's arguments before the
// job is accepted, and runs it on the job's thread. JobContext is what a
// running job gets from the manager.
//
// Contract of Run(): it blocks until the work is done; it uses at most
// ctx.threads() compute threads; it polls ctx.cancelled() often (between
// steps, windows, files) and then returns a Cancelled status soon; it
// reports progress through ctx.ReportProgress() as often as it likes (the
// manager throttles what it publishes); it writes scratch files only under
// ctx.work_dir(). The JSON it returns is the job's result.
// A kind that is resumable() is run again after a restart interrupted it:
// ctx.attempt() > 1, and it continues from what it left in its work dir.
//
// Ownership: the manager owns its kinds; a JobContext lives for one Run().
// Thread safety: Validate() and Run() may run on several threads at once
// (one per job); a kind keeps no per-job state in itself. JobContext is
// used by the job's own thread only, except that the cancel flag is set from
// elsewhere.
// Errors: Validate() returns InvalidArgument with a message a user can act
// on; Run() returns any status: Cancelled means the job was cancelled.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <utility>

#include "base/status.h"
#include "jobs/job.h"

namespace surge::jobs {

class JobContext {
 public:
  using ProgressSink = std::function<void(const JobProgress&)>;

  JobContext(std::string id, Json args, int threads, int attempt, std::string work_dir,
             const std::atomic<bool>* cancel, ProgressSink sink)
      : id_(std::move(id)),
        args_(std::move(args)),
        threads_(threads),
        attempt_(attempt),
        work_dir_(std::move(work_dir)),
        cancel_(cancel),
        sink_(std::move(sink)) {}

  const std::string& id() const { return id_; }
  const Json& args() const { return args_; }
  int threads() const { return threads_; }
  int attempt() const { return attempt_; }  // 1 on the first run
  // A directory of this job's own (exists); kept after the job ends.
  const std::string& work_dir() const { return work_dir_; }
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }
  const std::atomic<bool>* cancel_flag() const { return cancel_; }
  void ReportProgress(const JobProgress& progress) const {
    if (sink_) sink_(progress);
  }

 private:
  std::string id_;
  Json args_;
  int threads_;
  int attempt_;
  std::string work_dir_;
  const std::atomic<bool>* cancel_;
  ProgressSink sink_;
};

class JobKind {
 public:
  virtual ~JobKind() = default;

  virtual std::string name() const = 0;
  // Checks `args` without doing the work (files may be checked to exist).
  [[nodiscard]] virtual absl::Status Validate(const Json& args) const = 0;
  [[nodiscard]] virtual absl::StatusOr<Json> Run(JobContext& ctx) const = 0;
  virtual bool resumable() const { return false; }
};

}  // namespace surge::jobs
