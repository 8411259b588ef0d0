// Report renderings: tables, JSON, one-line summaries and the SVG plot.
#include "bench/load/report.h"

#include <string>
#include <vector>

#include "bench/load/svg_plot.h"
#include "gtest/gtest.h"

namespace surge::bench {
namespace {

LevelResult Level(double concurrency, double scale) {
  LevelResult l;
  l.value = concurrency;
  std::vector<RequestRecord> records;
  for (int i = 0; i < 10; ++i) {
    RequestRecord r;
    r.ttft_s = scale * (0.05 + 0.01 * i);
    r.e2e_s = scale * (0.5 + 0.05 * i);
    r.output_tokens = 8;
    r.max_tokens = 8;
    r.prompt_tokens = 32;
    r.usage_reported = true;
    r.itl_s = {0.05, 0.06};
    records.push_back(r);
    l.ttft_ms.push_back(*r.ttft_s * 1000);
  }
  RequestRecord failed;
  failed.error = ErrorKind::kHttpStatus;
  failed.http_status = 503;
  failed.error_message = "HTTP 503: busy";
  records.push_back(failed);
  l.stats = ComputeLevelStats(records, 2.0 * scale, Slo{.ttft_ms = 100});
  l.resources.cpu_cores = 1.5;
  l.resources.peak_resident_bytes = 300.0 * (1 << 20);
  l.resources.prefix_cache_hit_rate = 0.25;
  return l;
}

BenchReport TwoTargets() {
  BenchReport report;
  report.config.url = "http://127.0.0.1:1";
  report.config.compare_url = "http://127.0.0.1:2";
  report.config.api_key = "secret-key";
  report.config.levels = {1, 4};
  for (const char* label : {"A", "B"}) {
    TargetResult t;
    t.label = label;
    t.url = std::string("http://127.0.0.1:") + (label[0] == 'A' ? "1" : "2");
    t.model = "tiny <model>";
    const double scale = label[0] == 'A' ? 1.0 : 2.0;
    t.levels = {Level(1, scale), Level(4, scale)};
    report.targets.push_back(t);
  }
  return report;
}

// True if every element opened is closed in order (a small well-formedness
// check: no attributes with '>' are written, so tags split cleanly).
bool TagsBalance(const std::string& xml) {
  std::vector<std::string> stack;
  for (size_t pos = xml.find('<'); pos != std::string::npos; pos = xml.find('<', pos + 1)) {
    const size_t end = xml.find('>', pos);
    if (end == std::string::npos) return false;
    const std::string tag = xml.substr(pos + 1, end - pos - 1);
    if (tag.empty() || tag[0] == '?' || tag.back() == '/') continue;
    const std::string name =
        tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" \t\n") - (tag[0] == '/' ? 1 : 0));
    if (tag[0] != '/') {
      stack.push_back(name);
    } else if (stack.empty() || stack.back() != name) {
      return false;
    } else {
      stack.pop_back();
    }
  }
  return stack.empty();
}

TEST(ReportTest, TablesShowEveryTargetLevelAndRatios) {
  const std::string text = FormatTables(TwoTargets());
  for (const char* s :
       {"A: http://127.0.0.1:1", "B: http://127.0.0.1:2", "c=1", "c=4", "TTFT", "TPOT", "ITL",
        "E2E", "out tok/s", "goodput/s", "ratios B/A", "errors at c=1: http_status 1, HTTP 503 1",
        "HTTP 503: busy", "25.0%", "300.0"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  }
  // B is twice as slow everywhere: E2E ratios 2.00x, throughput 0.50x.
  EXPECT_NE(text.find("2.00x"), std::string::npos);
  EXPECT_NE(text.find("0.50x"), std::string::npos);
}

TEST(ReportTest, JsonHasFiguresConfigAndNoKey) {
  const nlohmann::json j = ReportJson(TwoTargets());
  EXPECT_EQ(j["config"]["levels"].size(), 2u);
  EXPECT_EQ(j["config"]["api_key_set"], true);
  EXPECT_EQ(j.dump().find("secret-key"), std::string::npos);
  const nlohmann::json& level = j["targets"][0]["levels"][1];
  EXPECT_EQ(level["value"], 4);
  EXPECT_EQ(level["num_requests"], 11);
  EXPECT_EQ(level["num_ok"], 10);
  EXPECT_EQ(level["errors_by_status"]["503"], 1);
  EXPECT_EQ(level["output_tokens"], 80);
  for (const char* k : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
    for (const char* f : {"mean", "p50", "p90", "p99"}) {
      EXPECT_TRUE(level[k][f].is_number()) << k << "." << f;
    }
  }
  EXPECT_TRUE(level["goodput"].is_number());
  EXPECT_EQ(level["resources"]["cpu_cores"], 1.5);
  ASSERT_EQ(j["comparison"].size(), 2u);
  EXPECT_NEAR(j["comparison"][0]["b_over_a"]["e2e_p50"].get<double>(), 2.0, 1e-9);
  EXPECT_NEAR(j["comparison"][0]["b_over_a"]["output_token_throughput"].get<double>(), 0.5, 1e-9);
}

TEST(ReportTest, RatioAndLevelLine) {
  EXPECT_FALSE(Ratio(0, 5).has_value());
  EXPECT_DOUBLE_EQ(*Ratio(2, 5), 2.5);
  const BenchReport r = TwoTargets();
  const std::string line = LevelLine(r.targets[0], r.targets[0].levels[0]);
  EXPECT_NE(line.find("A c=1: 10/11 ok, 1 errors"), std::string::npos) << line;
  LevelResult rate;
  rate.mode = LoadMode::kRate;
  rate.value = 2.5;
  EXPECT_EQ(LevelLabel(rate), "r=2.50/s");
}

TEST(SvgPlotTest, WellFormedWithAxesLegendAndEscapedText) {
  const std::string svg = RenderSvg(TwoTargets());
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_TRUE(TagsBalance(svg));
  for (const char* s : {"Throughput vs latency", "TTFT distribution", "output tokens/s",
                        "end-to-end latency (ms)", "fraction of requests", "A p50", "B p99",
                        "A c=1", "B c=4", "<polyline", "tiny &lt;model&gt;"}) {
    EXPECT_NE(svg.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(svg.find("tiny <model>"), std::string::npos);
  EXPECT_FALSE(TagsBalance("<svg><g></svg>"));  // the checker can fail
}

TEST(SvgPlotTest, EmptyReportSaysNoData) {
  BenchReport empty;
  empty.targets.push_back(TargetResult{.label = "", .url = "http://127.0.0.1:1"});
  const std::string svg = RenderSvg(empty);
  EXPECT_TRUE(TagsBalance(svg));
  EXPECT_NE(svg.find("no data"), std::string::npos);
}

TEST(SvgPlotTest, NiceSteps) {
  EXPECT_DOUBLE_EQ(NiceStep(100, 5), 20);
  EXPECT_DOUBLE_EQ(NiceStep(1, 5), 0.2);
  EXPECT_DOUBLE_EQ(NiceStep(730, 5), 200);
  EXPECT_DOUBLE_EQ(NiceStep(0, 5), 1);
}

}  // namespace
}  // namespace surge::bench
