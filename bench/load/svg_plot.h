// The --plot figure: a standalone SVG file any browser shows.
#pragma once

#include <string>

#include "bench/load/report.h"

namespace surge::bench {

// Two panels side by side.
// Left: output tokens/s (x) against end-to-end latency (y, ms), one point per
// level labelled with it, p50 solid and p99 dashed, one colour per target.
// Right: the TTFT distribution as an empirical CDF per level (x: TTFT ms, y:
// fraction of requests), one colour per level, target B dashed.
// Both axes start at zero with 1-2-5 ticks; each panel has a title, axis
// labels and a legend. A panel without data says so.
std::string RenderSvg(const BenchReport& report);

// The step of about `target_ticks` ticks from 0 to max_value: 1, 2 or 5 times
// a power of ten (max_value <= 0 gives 1).
double NiceStep(double max_value, int target_ticks);

}  // namespace surge::bench
