// JobManager::Job, the manager's record of one job; shared by the two files
// that implement the manager (job_manager.cc, job_dispatch.cc). Internal.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "jobs/job_manager.h"

namespace surge::jobs {

// Fields other than `cancel` and the save lock are guarded by the manager's
// mu_ (the annotation cannot name it from here).
struct JobManager::Job {
  JobInfo info;
  const JobKind* kind = nullptr;
  std::string work_dir;
  std::atomic<bool> cancel{false};
  bool cancel_requested = false;  // by a caller (the flag is also set by Stop())
  std::jthread thread;
  bool thread_done = false;  // the thread has finished its work; join it
  uint64_t event_seq = 0;
  uint64_t save_seq = 0;
  base::TimePoint started{};
  base::TimePoint last_published{};
  base::TimePoint last_saved{};
  std::vector<std::weak_ptr<JobEventStream>> subscribers;
  // Serializes this job's file writes; saved_version is the newest written.
  absl::Mutex save_mu;
  uint64_t saved_version ABSL_GUARDED_BY(save_mu) = 0;
};

}  // namespace surge::jobs
