// JobManager's running side: the dispatcher thread that starts queued jobs
// and joins finished ones, each job's own thread, progress, and the events
// and file writes that follow every change.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "jobs/job_manager.h"
#include "jobs/job_record.h"

namespace surge::jobs {
namespace {

void SetThreadNice(int nice, const std::string& id) {
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) != 0) {
    SURGE_LOG_WARN("job {}: cannot set nice {}: {}", id, nice, std::strerror(errno));
  }
}

}  // namespace

void JobManager::DispatchLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_; };
    mu_.Await(absl::Condition(&woken));
    wake_ = false;
    std::vector<std::jthread> done;
    for (auto& [seq, job] : jobs_) {
      if (job->thread_done && job->thread.joinable()) done.push_back(std::move(job->thread));
    }
    if (!done.empty()) {
      mu_.Unlock();
      done.clear();  // joins
      mu_.Lock();
    }
    if (stopping_) {
      if (running_ == 0) return;
      continue;
    }
    Outbox out;
    while (running_ < options_.max_jobs) {
      Job* next = NextRunnable();
      if (next == nullptr) break;
      StartJob(next, &out);
    }
    mu_.Unlock();
    Flush(out);
    mu_.Lock();
  }
}

JobManager::Job* JobManager::NextRunnable() {
  Job* best = nullptr;
  for (auto& [seq, job] : jobs_) {  // seq order: the first of equal priority wins
    if (job->info.state != JobState::kQueued || job->kind == nullptr) continue;
    if (best == nullptr || job->info.spec.priority < best->info.spec.priority) best = job.get();
  }
  return best;
}

void JobManager::StartJob(Job* job, Outbox* out) {
  JobInfo& info = job->info;
  info.state = JobState::kRunning;
  ++info.attempts;
  info.started_at = Now();
  info.finished_at = 0;
  info.error.clear();
  info.progress.message = info.attempts > 1 ? "resuming" : "starting";
  job->started = base::Clock::System().Now();
  job->cancel.store(false);
  ++running_;
  Publish(job, JobEvent::Type::kState, out);
  QueueSave(job, out);
  JobContext ctx(info.id, info.spec.args, info.spec.threads, info.attempts, job->work_dir,
                 &job->cancel, [this, job](const JobProgress& p) { OnProgress(job, p); });
  SURGE_LOG_INFO("job {} ({}) started: attempt {}, threads {}, priority {}", info.id,
                 info.spec.kind, info.attempts, info.spec.threads, info.spec.priority);
  job->thread = std::jthread([this, job, ctx = std::move(ctx)]() mutable { RunJob(job, ctx); });
}

void JobManager::RunJob(Job* job, JobContext& ctx) {
  if (options_.nice_threads) {
    int priority = 0;
    {
      absl::MutexLock lock(&mu_);
      priority = job->info.spec.priority;
    }
    SetThreadNice(std::min(19, options_.base_nice + priority), ctx.id());
  }
  absl::StatusOr<Json> result;
  try {  // the module edge: a kind's library may throw (JSON)
    result = job->kind->Run(ctx);
  } catch (const std::exception& e) {
    result = absl::InternalError(absl::StrCat("the job threw: ", e.what()));
  }
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Finish(job, result, &out);
  }
  Flush(out);
}

void JobManager::Finish(Job* job, const absl::StatusOr<Json>& result, Outbox* out) {
  JobInfo& info = job->info;
  const bool interrupted = stopping_ && !job->cancel_requested && !result.ok();
  if (interrupted) {
    // Left "running" on disk: the next start resumes or fails it.
    info.progress.message = "interrupted by shutdown";
    SURGE_LOG_INFO("job {}: interrupted by shutdown", info.id);
  } else {
    if (result.ok()) {
      info.state = JobState::kSucceeded;
      info.result = *result;
      info.progress.fraction = 1;
      info.progress.eta_seconds = 0;
      info.progress.message = "done";
    } else {
      info.state = job->cancel_requested ? JobState::kCancelled : JobState::kFailed;
      info.error = std::string(result.status().message());
      info.progress.message = ToString(info.state);
    }
    info.finished_at = Now();
    SURGE_LOG_INFO("job {} ({}) {}{}{}", info.id, info.spec.kind, ToString(info.state),
                   info.error.empty() ? "" : ": ", info.error);
    QueueSave(job, out);
  }
  Publish(job, JobEvent::Type::kState, out);
  --running_;
  job->thread_done = true;
  wake_ = true;
}

void JobManager::OnProgress(Job* job, const JobProgress& progress) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    JobProgress p = progress;
    p.fraction = std::clamp(std::isfinite(p.fraction) ? p.fraction : 0.0, 0.0, 1.0);
    const base::TimePoint now = base::Clock::System().Now();
    if (p.eta_seconds < 0 && p.fraction > 0.01 && p.fraction < 1) {
      p.eta_seconds = base::ToSeconds(now - job->started) * (1 - p.fraction) / p.fraction;
    }
    job->info.progress = std::move(p);
    if (now - job->last_published >= options_.progress_interval ||
        job->info.progress.fraction >= 1) {
      job->last_published = now;
      Publish(job, JobEvent::Type::kProgress, &out);
    }
    if (store_ && now - job->last_saved >= options_.save_interval) {
      job->last_saved = now;
      QueueSave(job, &out);
    }
  }
  Flush(out);
  YieldToServing(job);
}

void JobManager::YieldToServing(const Job* job) const {
  if (!options_.serving_busy) return;
  const base::TimePoint deadline = base::Clock::System().Now() + options_.max_yield;
  while (options_.serving_busy() && !job->cancel.load(std::memory_order_relaxed) &&
         base::Clock::System().Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void JobManager::Publish(Job* job, JobEvent::Type type, Outbox* out) {
  JobEvent event{type, ++job->event_seq, job->info};
  auto& subs = job->subscribers;
  for (auto it = subs.begin(); it != subs.end();) {
    if (std::shared_ptr<JobEventStream> s = it->lock()) {
      s->Push(event);
      out->notify.push_back(std::move(s));
      ++it;
    } else {
      it = subs.erase(it);
    }
  }
  if (event.terminal()) subs.clear();  // nothing follows a terminal state
}

void JobManager::QueueSave(Job* job, Outbox* out) {
  if (!store_) return;
  out->save.push_back(PendingSave{job, job->info, ++job->save_seq});
}

void JobManager::Flush(Outbox& out) {
  for (PendingSave& s : out.save) {
    absl::MutexLock lock(&s.job->save_mu);
    if (s.version <= s.job->saved_version) continue;  // a newer one was written
    if (absl::Status st = store_->Save(s.info); !st.ok()) {
      SURGE_LOG_ERROR("job {}: cannot write its state: {}", s.info.id, std::string(st.message()));
      continue;
    }
    s.job->saved_version = s.version;
  }
  for (const std::shared_ptr<JobEventStream>& s : out.notify) s->Notify();
}

}  // namespace surge::jobs
