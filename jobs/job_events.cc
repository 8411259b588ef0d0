#include "jobs/job_events.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace surge::jobs {

const char* ToString(JobEvent::Type type) {
  return type == JobEvent::Type::kState ? "state" : "progress";
}

std::string FormatSse(const JobEvent& event) {
  return absl::StrCat("event: ", ToString(event.type), "\nid: ", event.seq,
                      "\ndata: ", DumpJson(ToJson(event.info)), "\n\n");
}

void JobEventStream::Push(JobEvent event) {
  absl::MutexLock lock(&mu_);
  if (events_.size() >= kMaxPending) {
    auto oldest_progress = std::find_if(events_.begin(), events_.end(), [](const JobEvent& e) {
      return e.type == JobEvent::Type::kProgress;
    });
    if (oldest_progress != events_.end()) events_.erase(oldest_progress);
  }
  events_.push_back(std::move(event));
}

void JobEventStream::Notify() {
  std::function<void()> notify;
  {
    absl::MutexLock lock(&mu_);
    notify = notify_;
  }
  if (notify) notify();
}

std::optional<JobEvent> JobEventStream::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !events_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (events_.empty()) return std::nullopt;
  JobEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void JobEventStream::SetNotifier(std::function<void()> notify) {
  absl::MutexLock lock(&mu_);
  notify_ = std::move(notify);
}

}  // namespace surge::jobs
