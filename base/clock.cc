#include "base/clock.h"

namespace surge::base {
namespace {
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};
}  // namespace

Clock& Clock::System() {
  static SystemClock clock;
  return clock;
}

}  // namespace surge::base
