// The results of a `surge bench` run and their three renderings: the summary
// tables (stdout), the JSON report (--json) and one line per level (progress
// on a non-terminal). The SVG plot is in svg_plot.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/load/config.h"
#include "bench/load/metrics_scrape.h"
#include "bench/load/stats.h"
#include "nlohmann/json.hpp"

namespace surge::bench {

struct LevelResult {
  LoadMode mode = LoadMode::kConcurrency;
  double value = 0;  // concurrency or requests/s
  LevelStats stats;
  ResourceUse resources;
  bool interrupted = false;
  std::vector<double> ttft_ms;  // every TTFT of the level, ascending (for the plot)
};

struct TargetResult {
  std::string label;  // "A" / "B"
  std::string url;
  std::string model;
  std::string metrics_note;  // why resource figures are missing, if they are
  std::vector<LevelResult> levels;
};

// One target, or two with --compare: targets[0] is A (--url), targets[1] is
// B (--compare). Levels of both are in the same order.
struct BenchReport {
  BenchConfig config;
  std::vector<TargetResult> targets;
  bool interrupted = false;
};

// "c=16" or "r=2.5/s".
std::string LevelLabel(const LevelResult& level);

// The summary: per target a throughput table and a latency table, the errors
// seen, and with two targets the ratios B/A per level.
std::string FormatTables(const BenchReport& report);

// One line: label, requests, errors, throughput, TTFT and E2E p50/p99.
std::string LevelLine(const TargetResult& target, const LevelResult& level);

// Every figure and the configuration (the API key is not written).
nlohmann::json ReportJson(const BenchReport& report);

// Ratio B/A of a figure, or nullopt when A is 0 or either is missing.
std::optional<double> Ratio(double a, double b);

}  // namespace surge::bench
