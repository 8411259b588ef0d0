#include "bench/load/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace surge::bench {
namespace {

using Json = nlohmann::json;

// Columns padded to their widest cell; the first column left-aligned, the
// rest right-aligned.
class TextTable {
 public:
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      width.resize(std::max(width.size(), row.size()), 0);
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) {
        const std::string pad(width[i] - row[i].size(), ' ');
        absl::StrAppend(&out, i == 0 ? "" : "  ", i == 0 ? row[i] + pad : pad + row[i]);
      }
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Num(double v) {
  if (v != 0 && std::fabs(v) < 10) return absl::StrFormat("%.2f", v);
  if (std::fabs(v) < 1000) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.0f", v);
}

std::string Quad(const Summary& s) {
  if (s.count == 0) return "-";
  return absl::StrCat(Num(s.mean), " / ", Num(s.p50), " / ", Num(s.p90), " / ", Num(s.p99));
}

std::string Opt(const std::optional<double>& v, double scale = 1, const char* suffix = "") {
  return v ? absl::StrCat(Num(*v * scale), suffix) : "-";
}

std::string ErrorDetail(const LevelStats& s) {
  std::vector<std::string> parts;
  for (const auto& [kind, n] : s.errors_by_kind) parts.push_back(absl::StrCat(kind, " ", n));
  for (const auto& [status, n] : s.errors_by_status) {
    parts.push_back(absl::StrCat("HTTP ", status, " ", n));
  }
  std::string out = absl::StrJoin(parts, ", ");
  if (!s.error_samples.empty()) absl::StrAppend(&out, "; e.g. \"", s.error_samples[0], "\"");
  return out;
}

std::string ThroughputTable(const TargetResult& t) {
  TextTable table;
  table.Add({"level", "ok/done", "errors", "req/s", "out tok/s", "total tok/s", "goodput/s",
             "prompt tok", "out tok", "cached tok", "CPU cores", "peak RSS MiB", "prefix hit"});
  for (const LevelResult& l : t.levels) {
    const LevelStats& s = l.stats;
    table.Add({LevelLabel(l) + (l.interrupted ? " (interrupted)" : ""),
               absl::StrCat(s.num_ok, "/", s.num_requests), absl::StrCat(s.num_errors),
               Num(s.request_throughput), Num(s.output_throughput), Num(s.total_token_throughput),
               Opt(s.goodput),
               s.prompt_tokens_per_request.count ? Num(s.prompt_tokens_per_request.mean) : "-",
               Num(s.output_tokens_per_request.mean),
               s.cached_tokens ? absl::StrCat(*s.cached_tokens) : "-", Opt(l.resources.cpu_cores),
               Opt(l.resources.peak_resident_bytes, 1.0 / (1 << 20)),
               Opt(l.resources.prefix_cache_hit_rate, 100, "%")});
  }
  return table.Render();
}

std::string LatencyTable(const TargetResult& t) {
  TextTable table;
  table.Add({"level (ms: mean / p50 / p90 / p99)", "TTFT", "TPOT", "ITL", "E2E"});
  for (const LevelResult& l : t.levels) {
    const LevelStats& s = l.stats;
    table.Add({LevelLabel(l), Quad(s.ttft_ms), Quad(s.tpot_ms), Quad(s.itl_ms), Quad(s.e2e_ms)});
  }
  return table.Render();
}

std::string RatioText(std::optional<double> r) { return r ? absl::StrFormat("%.2fx", *r) : "-"; }

std::string CompareTable(const TargetResult& a, const TargetResult& b) {
  TextTable table;
  table.Add({"B / A", "req/s", "out tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "ITL p50",
             "E2E p50", "E2E p99", "CPU cores", "peak RSS"});
  const size_t n = std::min(a.levels.size(), b.levels.size());
  for (size_t i = 0; i < n; ++i) {
    const LevelStats& x = a.levels[i].stats;
    const LevelStats& y = b.levels[i].stats;
    const ResourceUse& rx = a.levels[i].resources;
    const ResourceUse& ry = b.levels[i].resources;
    auto opt_ratio = [](std::optional<double> u, std::optional<double> v) {
      return u && v ? Ratio(*u, *v) : std::nullopt;
    };
    table.Add(
        {LevelLabel(a.levels[i]), RatioText(Ratio(x.request_throughput, y.request_throughput)),
         RatioText(Ratio(x.output_throughput, y.output_throughput)),
         RatioText(Ratio(x.ttft_ms.p50, y.ttft_ms.p50)),
         RatioText(Ratio(x.ttft_ms.p99, y.ttft_ms.p99)),
         RatioText(Ratio(x.tpot_ms.p50, y.tpot_ms.p50)),
         RatioText(Ratio(x.itl_ms.p50, y.itl_ms.p50)), RatioText(Ratio(x.e2e_ms.p50, y.e2e_ms.p50)),
         RatioText(Ratio(x.e2e_ms.p99, y.e2e_ms.p99)),
         RatioText(opt_ratio(rx.cpu_cores, ry.cpu_cores)),
         RatioText(opt_ratio(rx.peak_resident_bytes, ry.peak_resident_bytes))});
  }
  return table.Render();
}

Json SummaryJson(const Summary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"min", s.min}, {"p50", s.p50},
          {"p90", s.p90},     {"p99", s.p99},   {"max", s.max}};
}

Json OptJson(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json ResourcesJson(const ResourceUse& r) {
  return {{"cpu_cores", OptJson(r.cpu_cores)},
          {"peak_resident_bytes", OptJson(r.peak_resident_bytes)},
          {"prefix_cache_queries", OptJson(r.prefix_cache_queries)},
          {"prefix_cache_hits", OptJson(r.prefix_cache_hits)},
          {"prefix_cache_hit_rate", OptJson(r.prefix_cache_hit_rate)}};
}

Json LevelJson(const LevelResult& l) {
  const LevelStats& s = l.stats;
  Json by_status = Json::object();
  for (const auto& [status, n] : s.errors_by_status) by_status[std::to_string(status)] = n;
  return {{"mode", LoadModeName(l.mode)},
          {"value", l.value},
          {"interrupted", l.interrupted},
          {"num_requests", s.num_requests},
          {"num_ok", s.num_ok},
          {"num_errors", s.num_errors},
          {"num_cancelled", s.num_cancelled},
          {"errors_by_status", by_status},
          {"errors_by_kind", s.errors_by_kind},
          {"error_samples", s.error_samples},
          {"duration_s", s.duration_s},
          {"request_throughput", s.request_throughput},
          {"output_token_throughput", s.output_throughput},
          {"total_token_throughput", s.total_token_throughput},
          {"goodput", OptJson(s.goodput)},
          {"num_slo_met", s.num_slo_met},
          {"prompt_tokens", s.prompt_tokens},
          {"output_tokens", s.output_tokens},
          {"cached_prompt_tokens", s.cached_tokens ? Json(*s.cached_tokens) : Json(nullptr)},
          {"num_usage_reported", s.num_usage_reported},
          {"num_short_outputs", s.num_short_outputs},
          {"prompt_tokens_per_request", SummaryJson(s.prompt_tokens_per_request)},
          {"output_tokens_per_request", SummaryJson(s.output_tokens_per_request)},
          {"ttft_ms", SummaryJson(s.ttft_ms)},
          {"tpot_ms", SummaryJson(s.tpot_ms)},
          {"itl_ms", SummaryJson(s.itl_ms)},
          {"e2e_ms", SummaryJson(s.e2e_ms)},
          {"resources", ResourcesJson(l.resources)}};
}

Json ConfigJson(const BenchConfig& c) {
  auto range = [](const IntRange& r) { return Json{{"min", r.min}, {"max", r.max}}; };
  return {{"url", c.url},
          {"compare_url", c.compare_url},
          {"model", c.model},
          {"api_key_set", !c.api_key.empty()},
          {"mode", LoadModeName(c.mode)},
          {"levels", c.levels},
          {"requests", c.requests},
          {"duration_s", c.duration_s},
          {"warmup", c.warmup},
          {"max_inflight", c.max_inflight},
          {"prompt_tokens", range(c.prompt_tokens)},
          {"shared_prefix_tokens", c.shared_prefix_tokens},
          {"num_prefixes", c.num_prefixes},
          {"dataset", c.dataset_path},
          {"max_tokens", range(c.max_tokens)},
          {"ignore_eos", c.ignore_eos},
          {"temperature", c.temperature},
          {"endpoint", EndpointName(c.endpoint)},
          {"stream", c.stream},
          {"slo_ttft_ms", c.slo_ttft_ms},
          {"slo_tpot_ms", c.slo_tpot_ms},
          {"timeout_s", c.timeout_s},
          {"seed", c.seed}};
}

}  // namespace

std::optional<double> Ratio(double a, double b) {
  if (a == 0 || !std::isfinite(a) || !std::isfinite(b)) return std::nullopt;
  return b / a;
}

std::string LevelLabel(const LevelResult& level) {
  if (level.mode == LoadMode::kConcurrency) return absl::StrCat("c=", level.value);
  return absl::StrCat("r=", Num(level.value), "/s");
}

std::string LevelLine(const TargetResult& target, const LevelResult& l) {
  const LevelStats& s = l.stats;
  std::string line = absl::StrFormat(
      "%s%s: %d/%d ok, %d errors, %.2f req/s, %.1f out tok/s, TTFT p50 %s p99 %s ms, "
      "E2E p50 %s p99 %s ms",
      target.label.empty() ? "" : target.label + " ", LevelLabel(l), s.num_ok, s.num_requests,
      s.num_errors, s.request_throughput, s.output_throughput, Num(s.ttft_ms.p50),
      Num(s.ttft_ms.p99), Num(s.e2e_ms.p50), Num(s.e2e_ms.p99));
  if (l.interrupted) line += " (interrupted)";
  return line;
}

std::string FormatTables(const BenchReport& report) {
  const BenchConfig& c = report.config;
  std::string out;
  for (const TargetResult& t : report.targets) {
    absl::StrAppend(&out, "\n", t.label.empty() ? "" : t.label + ": ", t.url, "  model ",
                    t.model.empty() ? "(none)" : t.model, "  ", EndpointName(c.endpoint),
                    c.stream ? ", streaming" : ", not streaming", "\n\n");
    absl::StrAppend(&out, ThroughputTable(t), "\n", LatencyTable(t));
    for (const LevelResult& l : t.levels) {
      if (l.stats.num_errors > 0) {
        absl::StrAppend(&out, "errors at ", LevelLabel(l), ": ", ErrorDetail(l.stats), "\n");
      }
    }
    if (!t.metrics_note.empty()) absl::StrAppend(&out, "resources: ", t.metrics_note, "\n");
  }
  if (report.targets.size() == 2) {
    absl::StrAppend(&out, "\nratios B/A (B: ", report.targets[1].url,
                    ", A: ", report.targets[0].url, "; above 1 means B is higher)\n\n",
                    CompareTable(report.targets[0], report.targets[1]));
  }
  if (report.interrupted) out += "\ninterrupted: the figures cover what ran before the stop\n";
  return out;
}

Json ReportJson(const BenchReport& report) {
  Json targets = Json::array();
  for (const TargetResult& t : report.targets) {
    Json levels = Json::array();
    for (const LevelResult& l : t.levels) levels.push_back(LevelJson(l));
    targets.push_back({{"label", t.label},
                       {"url", t.url},
                       {"model", t.model},
                       {"metrics_note", t.metrics_note},
                       {"levels", std::move(levels)}});
  }
  Json out = {{"tool", "surge bench"},
              {"config", ConfigJson(report.config)},
              {"interrupted", report.interrupted},
              {"targets", std::move(targets)},
              {"definitions",
               {{"percentile", "linear interpolation between closest ranks (NumPy default)"},
                {"ttft", "due time to first content chunk"},
                {"tpot", "(e2e - ttft) / (output_tokens - 1), requests with >= 2 tokens"},
                {"itl", "gaps between successive content chunks, pooled over requests"},
                {"throughput", "successful requests over the level's wall time"}}}};
  if (report.targets.size() == 2) {
    Json comparison = Json::array();
    const TargetResult& a = report.targets[0];
    const TargetResult& b = report.targets[1];
    for (size_t i = 0; i < std::min(a.levels.size(), b.levels.size()); ++i) {
      const LevelStats& x = a.levels[i].stats;
      const LevelStats& y = b.levels[i].stats;
      auto r = [](double u, double v) { return OptJson(Ratio(u, v)); };
      comparison.push_back(
          {{"level", a.levels[i].value},
           {"b_over_a",
            {{"request_throughput", r(x.request_throughput, y.request_throughput)},
             {"output_token_throughput", r(x.output_throughput, y.output_throughput)},
             {"ttft_p50", r(x.ttft_ms.p50, y.ttft_ms.p50)},
             {"ttft_p99", r(x.ttft_ms.p99, y.ttft_ms.p99)},
             {"tpot_p50", r(x.tpot_ms.p50, y.tpot_ms.p50)},
             {"itl_p50", r(x.itl_ms.p50, y.itl_ms.p50)},
             {"e2e_p50", r(x.e2e_ms.p50, y.e2e_ms.p50)},
             {"e2e_p99", r(x.e2e_ms.p99, y.e2e_ms.p99)}}}});
    }
    out["comparison"] = std::move(comparison);
  }
  return out;
}

}  // namespace surge::bench
