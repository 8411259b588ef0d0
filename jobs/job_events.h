// JobEventStream carries one subscriber's view of a job: the job as it was
// when the subscription began (the replay), then every state change and
// (throttled) progress report, ending with the event of its terminal state.
//
// Model: the JobManager pushes, one consumer pops, either blocking in
// Next() or from a notifier the manager calls (without its locks held)
// after each push; the HTTP layer posts a drain onto the connection's
// strand from there. Each event carries the whole JobInfo, so a consumer
// that joins late or drops progress events still shows the latest figures.
// A consumer that does not keep up loses the oldest progress events (at
// most kMaxPending wait), never a state change.
// Ownership: shared by the manager (which keeps only a weak reference) and
// the consumer; dropping the consumer's reference ends the subscription.
// Thread safety: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jobs/job.h"

namespace surge::jobs {

struct JobEvent {
  enum class Type { kState, kProgress };
  Type type = Type::kState;
  uint64_t seq = 0;  // per job, increasing
  JobInfo info;

  bool terminal() const { return type == Type::kState && IsTerminal(info.state); }
};
const char* ToString(JobEvent::Type type);

// The event as one Server-Sent Events message: "event: state|progress",
// "id: <seq>", "data: <JobInfo JSON>".
std::string FormatSse(const JobEvent& event);

class JobEventStream {
 public:
  static constexpr size_t kMaxPending = 256;

  std::optional<JobEvent> Next(absl::Duration timeout = absl::InfiniteDuration());
  std::optional<JobEvent> TryNext() { return Next(absl::ZeroDuration()); }
  // Called after each push, on the pushing thread. Set it right after
  // subscribing and then drain once: the replay may already be waiting.
  void SetNotifier(std::function<void()> notify);

  // Producer side (the manager). Push() does not notify; the manager calls
  // Notify() once it has released its lock.
  void Push(JobEvent event);
  void Notify();

 private:
  absl::Mutex mu_;
  std::deque<JobEvent> events_ ABSL_GUARDED_BY(mu_);
  std::function<void()> notify_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::jobs
