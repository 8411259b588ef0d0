#include "tools/surge/job_progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace surge::cli {
namespace {

constexpr int kBarWidth = 20;

std::string Figure(const std::string& name, double v) {
  if (!std::isfinite(v)) return "";
  if (name == "tokens_per_second") return absl::StrFormat("  %.0f tok/s", v);
  if (name == "lr") return absl::StrFormat("  lr %.2e", v);
  if (std::abs(v) >= 1000 || v == std::floor(v)) return absl::StrFormat("  %s %.0f", name, v);
  return absl::StrFormat("  %s %.4g", name, v);
}

}  // namespace

std::string FormatDuration(double seconds) {
  const int64_t t = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (t >= 3600) return absl::StrFormat("%dh%02dm", t / 3600, t / 60 % 60);
  if (t >= 60) return absl::StrFormat("%dm%02ds", t / 60, t % 60);
  return absl::StrFormat("%ds", t);
}

ProgressPrinter::ProgressPrinter() : tty_(isatty(STDERR_FILENO) != 0) {}

std::string ProgressPrinter::Line(const jobs::JobInfo& info) const {
  const jobs::JobProgress& p = info.progress;
  const int filled = static_cast<int>(std::lround(p.fraction * kBarWidth));
  std::string line =
      absl::StrFormat("%s %s  [%s%s] %5.1f%%", info.id, info.spec.kind, std::string(filled, '#'),
                      std::string(kBarWidth - filled, '-'), 100.0 * p.fraction);
  if (info.state == jobs::JobState::kRunning && p.eta_seconds >= 0) {
    absl::StrAppend(&line, "  ETA ", FormatDuration(p.eta_seconds));
  }
  auto step = p.figures.find("step");
  auto total = p.figures.find("total_steps");
  if (step != p.figures.end() && total != p.figures.end()) {
    absl::StrAppend(&line, absl::StrFormat("  step %.0f/%.0f", step->second, total->second));
  }
  for (const auto& [name, value] : p.figures) {
    if (name != "step" && name != "total_steps") absl::StrAppend(&line, Figure(name, value));
  }
  const std::string what =
      info.state == jobs::JobState::kRunning ? p.message : jobs::ToString(info.state);
  if (!what.empty()) absl::StrAppend(&line, "  | ", what);
  return line;
}

void ProgressPrinter::Update(const jobs::JobInfo& info) {
  const auto now = std::chrono::steady_clock::now();
  const bool changed = info.state != last_state_ || info.progress.message != last_message_;
  const auto every = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000);
  if (drawn_ && !changed && now - last_ < every && !jobs::IsTerminal(info.state)) return;
  last_ = now;
  last_state_ = info.state;
  last_message_ = info.progress.message;
  drawn_ = true;
  const std::string line = Line(info);
  std::fprintf(stderr, tty_ ? "\r%s\033[K" : "%s\n", line.c_str());
  std::fflush(stderr);
}

void ProgressPrinter::Finish() {
  if (tty_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

absl::StatusOr<jobs::Json> ArgsFromFlags(const std::vector<std::string>& flags) {
  jobs::Json args = jobs::Json::object();
  for (size_t i = 0; i < flags.size(); ++i) {
    const std::string& f = flags[i];
    if (!absl::StartsWith(f, "--") || f.size() == 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected '", f, "': give the job's arguments as --name value"));
    }
    std::string key = f.substr(2);
    std::string value = "true";
    if (const size_t eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < flags.size() && !absl::StartsWith(flags[i + 1], "--")) {
      value = flags[++i];
    }
    key = absl::StrReplaceAll(key, {{"-", "_"}});
    if (args.contains(key)) return absl::InvalidArgumentError("--" + key + " is given twice");
    args[key] = value;
  }
  return args;
}

}  // namespace surge::cli
