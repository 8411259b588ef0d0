#include "bench/load/progress.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace surge::bench {
namespace {

constexpr int kBarWidth = 30;

}  // namespace

void ProgressDisplay::Update(std::string_view label, const Progress& p, int64_t max_requests,
                             double max_duration_s) {
  if (!interactive_) return;
  double fraction = 0;
  if (max_requests > 0) {
    fraction = static_cast<double>(p.finished) / static_cast<double>(max_requests);
  }
  if (max_duration_s > 0) fraction = std::max(fraction, p.elapsed_s / max_duration_s);
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kBarWidth);
  const std::string bar =
      std::string(static_cast<size_t>(filled), '#') + std::string(kBarWidth - filled, '.');
  // \r and erase-to-end-of-line redraw the bar in place.
  absl::FPrintF(out_, "\r\x1b[K%s [%s] %d done, %d errors, %d in flight, %.1f s",
                std::string(label), bar, p.finished, p.errors, p.inflight, p.elapsed_s);
  std::fflush(out_);
  bar_shown_ = true;
}

void ProgressDisplay::Line(std::string_view line) {
  Clear();
  absl::FPrintF(out_, "%s\n", std::string(line));
  std::fflush(out_);
}

void ProgressDisplay::Clear() {
  if (!bar_shown_) return;
  absl::FPrintF(out_, "\r\x1b[K");
  bar_shown_ = false;
}

}  // namespace surge::bench
