// ProgressDisplay: what `surge bench` shows on stderr while it runs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "bench/load/runner.h"

namespace surge::bench {

// Interactive (stderr is a terminal): one live bar per level, redrawn in
// place, replaced by the level's summary line when it ends. Otherwise: no
// bar, just the summary line per level, so logs stay one line per level.
//
// Thread safety: none; used from the thread that runs the levels.
class ProgressDisplay {
 public:
  ProgressDisplay(FILE* out, bool interactive) : out_(out), interactive_(interactive) {}

  // Redraws the bar of the running level. `max_requests` / `max_duration_s`
  // are the level's caps (0 = none); the bar shows whichever is further along.
  void Update(std::string_view label, const Progress& p, int64_t max_requests,
              double max_duration_s);
  // Ends the level: clears the bar and prints `line`.
  void Line(std::string_view line);

  bool interactive() const { return interactive_; }

 private:
  void Clear();

  FILE* out_;
  bool interactive_;
  bool bar_shown_ = false;
};

}  // namespace surge::bench
