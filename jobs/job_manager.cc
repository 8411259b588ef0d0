#include "jobs/job_manager.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "jobs/job_record.h"

namespace surge::jobs {

absl::StatusOr<std::unique_ptr<JobManager>> JobManager::Create(
    JobManagerOptions options, std::vector<std::unique_ptr<JobKind>> kinds) {
  if (options.max_jobs < 1) return absl::InvalidArgumentError("max jobs must be at least 1");
  std::unique_ptr<JobManager> m(new JobManager(std::move(options)));
  for (std::unique_ptr<JobKind>& kind : kinds) {
    std::string name = kind->name();
    m->kinds_.emplace(std::move(name), std::move(kind));
  }
  if (!m->options_.state_dir.empty()) {
    SURGE_ASSIGN_OR_RETURN(JobStore store, JobStore::Open(m->options_.state_dir));
    m->store_.emplace(std::move(store));
    SURGE_RETURN_IF_ERROR(m->Recover());
  }
  return m;
}

JobManager::JobManager(JobManagerOptions options) : options_(std::move(options)) {}

JobManager::~JobManager() { Stop(); }

int64_t JobManager::Now() const { return static_cast<int64_t>(std::time(nullptr)); }

const JobKind* JobManager::FindKind(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second.get();
}

std::vector<std::string> JobManager::kind_names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

JobManager::Job* JobManager::Find(const std::string& id) const {
  for (const auto& [seq, job] : jobs_) {
    if (job->info.id == id) return job.get();
  }
  return nullptr;
}

absl::StatusOr<std::string> JobManager::WorkDir(const std::string& id) {
  if (store_) return store_->WorkDir(id);
  std::string root;
  {
    absl::MutexLock lock(&temp_mu_);
    if (temp_root_.empty()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "surge-jobs-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) {
        return absl::UnavailableError(
            absl::StrCat("cannot create a work directory: ", std::strerror(errno)));
      }
      temp_root_ = tmpl;
    }
    root = temp_root_;
  }
  const std::filesystem::path dir = std::filesystem::path(root) / id;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir.string()));
  return dir.string();
}

// Jobs from the state dir: queued ones queue again; running ones were
// interrupted and resume or fail.
absl::Status JobManager::Recover() {
  SURGE_ASSIGN_OR_RETURN(JobStore::Loaded loaded, store_->LoadAll());
  for (const std::string& note : loaded.corrupt) SURGE_LOG_ERROR("jobs: bad job file {}", note);
  absl::MutexLock lock(&mu_);
  for (JobInfo& info : loaded.jobs) {
    auto job = std::make_unique<Job>();
    job->kind = FindKind(info.spec.kind);
    bool changed = false;
    if (info.state == JobState::kRunning && job->kind != nullptr && job->kind->resumable()) {
      info.state = JobState::kQueued;
      info.progress.message = "interrupted by restart; queued to resume";
      changed = true;
      SURGE_LOG_INFO("job {} ({}): interrupted by restart, will resume", info.id, info.spec.kind);
    } else if (info.state == JobState::kRunning ||
               (info.state == JobState::kQueued && job->kind == nullptr)) {
      info.error = info.state == JobState::kRunning
                       ? "interrupted by restart"
                       : absl::StrCat("job kind '", info.spec.kind, "' is not available here");
      info.state = JobState::kFailed;
      info.finished_at = Now();
      changed = true;
      SURGE_LOG_WARN("job {} ({}): marked failed: {}", info.id, info.spec.kind, info.error);
    }
    SURGE_ASSIGN_OR_RETURN(job->work_dir, store_->WorkDir(info.id));
    if (changed) SURGE_RETURN_IF_ERROR(store_->Save(info));
    next_seq_ = std::max(next_seq_, info.seq + 1);
    job->info = std::move(info);
    const uint64_t seq = job->info.seq;
    jobs_.emplace(seq, std::move(job));
  }
  wake_ = true;
  return absl::OkStatus();
}

void JobManager::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  wake_ = true;
  dispatcher_ = std::jthread([this] { DispatchLoop(); });
}

void JobManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    wake_ = true;
    for (auto& [seq, job] : jobs_) {
      if (job->info.state == JobState::kRunning) job->cancel.store(true);
    }
  }
  if (dispatcher_.joinable()) dispatcher_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [seq, job] : jobs_) {
    if (job->thread.joinable()) {
      mu_.Unlock();
      job->thread.join();
      mu_.Lock();
    }
  }
}

absl::StatusOr<JobInfo> JobManager::Submit(JobSpec spec) {
  const JobKind* kind = FindKind(spec.kind);
  if (kind == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown job kind '", spec.kind, "' (known: ", absl::StrJoin(kind_names(), ", "), ")"));
  }
  if (spec.threads < 1 || spec.threads > kMaxJobThreads) {
    return absl::InvalidArgumentError(absl::StrCat("threads must be in [1, ", kMaxJobThreads, "]"));
  }
  if (spec.priority < kMinPriority || spec.priority > kMaxPriority) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority must be in [", kMinPriority, ", ", kMaxPriority, "]"));
  }
  SURGE_RETURN_IF_ERROR(kind->Validate(spec.args));
  auto job = std::make_unique<Job>();
  job->kind = kind;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the job manager is shutting down");
    job->info.seq = next_seq_++;
  }
  JobInfo& info = job->info;
  info.id = JobId(info.seq);
  info.spec = std::move(spec);
  info.created_at = Now();
  info.progress.message = "queued";
  SURGE_ASSIGN_OR_RETURN(job->work_dir, WorkDir(info.id));
  if (store_) {
    if (absl::Status s = store_->Save(info); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot record the job: ", s.message()));
    }
  }
  SURGE_LOG_INFO("job {} ({}) queued: threads {}, priority {}", info.id, info.spec.kind,
                 info.spec.threads, info.spec.priority);
  JobInfo copy = info;
  absl::MutexLock lock(&mu_);
  jobs_.emplace(copy.seq, std::move(job));
  wake_ = true;
  return copy;
}

std::vector<JobInfo> JobManager::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<JobInfo> out;
  for (const auto& [seq, job] : jobs_) out.push_back(job->info);
  return out;
}

absl::StatusOr<JobInfo> JobManager::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  const Job* job = Find(id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
  return job->info;
}

int JobManager::num_running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

absl::StatusOr<JobInfo> JobManager::Cancel(const std::string& id) {
  Outbox out;
  JobInfo info;
  {
    absl::MutexLock lock(&mu_);
    Job* job = Find(id);
    if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
    if (IsTerminal(job->info.state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", id, " has already ", ToString(job->info.state)));
    }
    if (job->info.state == JobState::kQueued) {
      job->info.state = JobState::kCancelled;
      job->info.error = "cancelled before it started";
      job->info.finished_at = Now();
      Publish(job, JobEvent::Type::kState, &out);
      QueueSave(job, &out);
    } else {
      job->cancel_requested = true;
      job->cancel.store(true);
      job->info.progress.message = "cancelling";
      Publish(job, JobEvent::Type::kProgress, &out);
    }
    info = job->info;
  }
  SURGE_LOG_INFO("job {}: cancel requested", id);
  Flush(out);
  return info;
}

absl::StatusOr<std::shared_ptr<JobEventStream>> JobManager::Subscribe(const std::string& id) {
  absl::MutexLock lock(&mu_);
  Job* job = Find(id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
  auto stream = std::make_shared<JobEventStream>();
  stream->Push(JobEvent{JobEvent::Type::kState, job->event_seq, job->info});
  if (!IsTerminal(job->info.state)) job->subscribers.push_back(stream);
  return stream;
}

absl::StatusOr<JobInfo> JobManager::Wait(const std::string& id, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  Job* job = Find(id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", id, "'"));
  auto done = [job] { return IsTerminal(job->info.state); };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return job->info;
}

}  // namespace surge::jobs
