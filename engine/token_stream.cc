#include "engine/token_stream.h"

namespace surge::engine {

const char* ToString(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kExpired:
      return "expired";
    case FinishReason::kError:
      return "error";
  }
  return "unknown";
}

void TokenStream::Push(TokenEvent event) {
  event.time = base::Clock::System().Now();
  std::function<void()> notify;
  {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
    notify = notify_;
  }
  if (notify) notify();
}

void TokenStream::Finish(RequestSummary summary) {
  std::function<void()> notify;
  {
    absl::MutexLock lock(&mu_);
    summary_ = summary;
    notify = notify_;
  }
  if (notify) notify();
}

std::optional<TokenStream::Item> TokenStream::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !events_.empty() || (summary_.has_value() && !summary_taken_);
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  Item item;
  if (!events_.empty()) {
    item.event = std::move(events_.front());
    events_.pop_front();
    return item;
  }
  if (summary_.has_value() && !summary_taken_) {
    summary_taken_ = true;
    item.summary = summary_;
    return item;
  }
  return std::nullopt;
}

void TokenStream::SetNotifier(std::function<void()> notify) {
  absl::MutexLock lock(&mu_);
  notify_ = std::move(notify);
}

}  // namespace surge::engine
