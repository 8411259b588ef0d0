// Helpers of `surge job`: the progress bar drawn on stderr, and the job's
// own flags (`--corpus kjv --steps 50`) turned into its JSON arguments.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/job.h"

namespace surge::cli {

// Draws one job's progress on stderr: on a terminal one line that rewrites
// itself (at most 5 times a second); elsewhere a line every 10 s and at
// every change of state or message.
//   job-3 train  [########------------]  41.0%  ETA 1m12s  step 123/300  loss 3.91  | training
// Thread safety: one printer per job, one thread.
class ProgressPrinter {
 public:
  ProgressPrinter();
  void Update(const jobs::JobInfo& info);
  // Ends the line (a terminal's bar stays visible).
  void Finish();

 private:
  std::string Line(const jobs::JobInfo& info) const;

  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
  jobs::JobState last_state_ = jobs::JobState::kQueued;
  std::string last_message_;
};

// "--key value", "--key=value" and a bare "--flag" (true) -> {"key": "value"}
// with '-' in keys turned into '_'. Values stay strings; the kinds read them
// leniently ("50" as 50). Anything else (a stray positional) is an error.
[[nodiscard]] absl::StatusOr<jobs::Json> ArgsFromFlags(const std::vector<std::string>& flags);

// "1h02m", "3m05s", "42s".
std::string FormatDuration(double seconds);

}  // namespace surge::cli
