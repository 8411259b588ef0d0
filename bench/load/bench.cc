#include "bench/load/bench.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "bench/load/rng.h"
#include "bench/load/runner.h"
#include "nlohmann/json.hpp"
#include "server/http/client.h"

namespace surge::bench {
namespace {

constexpr std::chrono::milliseconds kProbeTimeout{5000};

struct TargetState {
  std::unique_ptr<LevelRunner> runner;
  bool has_metrics = false;
  TargetResult result;
};

void Say(ProgressDisplay* display, const std::string& line) {
  if (display != nullptr) display->Line(line);
}

absl::StatusOr<std::string> DiscoverModel(const TargetUrl& url, const std::string& api_key) {
  server::http::ClientRequest r;
  r.host = url.host;
  r.port = url.port;
  r.target = "/v1/models";
  r.connect_timeout = kProbeTimeout;
  r.read_timeout = kProbeTimeout;
  if (!api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + api_key);
  SURGE_ASSIGN_OR_RETURN(server::http::ClientResponse response, server::http::Fetch(r));
  if (response.status != 200) {
    return absl::UnavailableError(absl::StrCat("GET /v1/models answered ", response.status));
  }
  const nlohmann::json j = nlohmann::json::parse(response.body, nullptr, false);
  if (j.is_object() && j.contains("data") && j["data"].is_array() && !j["data"].empty() &&
      j["data"][0].is_object() && j["data"][0].contains("id") && j["data"][0]["id"].is_string()) {
    return j["data"][0]["id"].get<std::string>();
  }
  return absl::UnavailableError("GET /v1/models listed no model id");
}

TargetState PrepareTarget(const BenchConfig& c, const Workload& workload, const std::string& url,
                          std::string label, ProgressDisplay* display) {
  const TargetUrl parsed = *ParseTargetUrl(url);  // validated before
  TargetState t;
  t.result.label = std::move(label);
  t.result.url = parsed.text;
  t.result.model = c.model;
  if (t.result.model.empty()) {
    absl::StatusOr<std::string> model = DiscoverModel(parsed, c.api_key);
    if (model.ok()) {
      t.result.model = *model;
    } else {
      Say(display, absl::StrCat(parsed.text, ": no model from /v1/models (",
                                std::string(model.status().message()),
                                "); requests carry no \"model\" field"));
    }
  }
  if (c.scrape_metrics) {
    absl::StatusOr<MetricsSample> probe = ScrapeMetrics(parsed, c.api_key, kProbeTimeout);
    t.has_metrics = probe.ok();
    if (!probe.ok()) t.result.metrics_note = std::string(probe.status().message());
  } else {
    t.result.metrics_note = "not scraped (--no-metrics)";
  }
  Target target{.url = parsed,
                .api_key = c.api_key,
                .body = {.endpoint = c.endpoint,
                         .model = t.result.model,
                         .stream = c.stream,
                         .ignore_eos = c.ignore_eos,
                         .temperature = c.temperature}};
  t.runner = std::make_unique<LevelRunner>(
      workload, std::move(target), c.seed,
      std::chrono::milliseconds(static_cast<int64_t>(c.timeout_s * 1000)));
  return t;
}

void Warmup(const BenchConfig& c, TargetState& t, const std::atomic<bool>* stop,
            ProgressDisplay* display) {
  if (c.warmup <= 0) return;
  const double workers = c.mode == LoadMode::kConcurrency ? c.levels[0] : 1;
  LevelPlan plan{.mode = LoadMode::kConcurrency,
                 .value = std::min<double>(workers, static_cast<double>(c.warmup)),
                 .max_requests = c.warmup,
                 .stream = SeedTag("warmup")};
  const LevelRun run = t.runner->Run(plan, nullptr, stop);
  const LevelStats s = ComputeLevelStats(run.records, run.duration_s, Slo{});
  std::string line = absl::StrCat(t.result.label.empty() ? "" : t.result.label + " ",
                                  "warm-up: ", s.num_ok, "/", s.num_requests, " ok");
  if (!s.error_samples.empty()) absl::StrAppend(&line, " (", s.error_samples[0], ")");
  Say(display, line);
}

LevelResult RunLevel(const BenchConfig& c, size_t level_index, TargetState& t,
                     const std::atomic<bool>* stop, ProgressDisplay* display) {
  LevelResult result;
  result.mode = c.mode;
  result.value = c.levels[level_index];
  const std::string label =
      absl::StrCat(t.result.label.empty() ? "" : t.result.label + " ", LevelLabel(result));
  const LevelPlan plan{.mode = c.mode,
                       .value = result.value,
                       .max_requests = c.requests,
                       .max_duration_s = c.duration_s,
                       .stream = level_index + 1,
                       .max_inflight = c.max_inflight,
                       .sample_memory = t.has_metrics};
  const TargetUrl& url = t.runner->target().url;
  MetricsSample before, after;
  if (t.has_metrics) before = ScrapeMetrics(url, c.api_key, kProbeTimeout).value_or(before);
  auto on_progress = [&](const Progress& p) {
    if (display != nullptr) display->Update(label, p, c.requests, c.duration_s);
  };
  LevelRun run = t.runner->Run(plan, on_progress, stop);
  if (t.has_metrics) after = ScrapeMetrics(url, c.api_key, kProbeTimeout).value_or(after);
  result.interrupted = run.interrupted;
  result.stats = ComputeLevelStats(run.records, run.duration_s,
                                   Slo{.ttft_ms = c.slo_ttft_ms, .tpot_ms = c.slo_tpot_ms});
  if (t.has_metrics) {
    result.resources = ComputeResourceUse(before, after, run.peak_resident_bytes, run.duration_s);
  }
  for (const RequestRecord& r : run.records) {
    if (r.ok() && r.ttft_s) result.ttft_ms.push_back(*r.ttft_s * 1000);
  }
  std::sort(result.ttft_ms.begin(), result.ttft_ms.end());
  Say(display, LevelLine(t.result, result));
  return result;
}

}  // namespace

absl::StatusOr<BenchReport> RunBench(const BenchConfig& config, const std::atomic<bool>* stop,
                                     ProgressDisplay* display) {
  SURGE_RETURN_IF_ERROR(ValidateConfig(config));
  SURGE_ASSIGN_OR_RETURN(Workload workload, Workload::Create(config));
  const bool compare = !config.compare_url.empty();
  std::vector<TargetState> targets;
  targets.push_back(PrepareTarget(config, workload, config.url, compare ? "A" : "", display));
  if (compare) {
    targets.push_back(PrepareTarget(config, workload, config.compare_url, "B", display));
  }
  auto stopped = [stop] { return stop != nullptr && stop->load(); };
  for (TargetState& t : targets) {
    if (!stopped()) Warmup(config, t, stop, display);
  }
  BenchReport report;
  report.config = config;
  for (size_t i = 0; i < config.levels.size() && !stopped(); ++i) {
    for (TargetState& t : targets) {
      if (stopped()) break;
      t.result.levels.push_back(RunLevel(config, i, t, stop, display));
    }
  }
  report.interrupted = stopped();
  for (TargetState& t : targets) report.targets.push_back(std::move(t.result));
  return report;
}

}  // namespace surge::bench
