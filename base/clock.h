// Clock is the one source of time for code that schedules or measures, so
// tests can substitute a FakeClock and run deterministically.
//
// Thread safety: SystemClock is thread-safe; FakeClock is not (tests drive it
// from one thread).
#pragma once

#include <chrono>

namespace surge::base {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // The process-wide steady clock.
  static Clock& System();
};

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{};
};

inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline double ToMillis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace surge::base
