#include "bench/load/svg_plot.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace surge::bench {
namespace {

constexpr int kWidth = 1100;
constexpr int kHeight = 490;
constexpr int kPanelWidth = 430;
constexpr int kPanelHeight = 320;
constexpr int kTop = 84;
constexpr int kLeft[2] = {80, 620};
constexpr size_t kMaxCdfPoints = 400;
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr size_t kNumColors = sizeof(kColors) / sizeof(kColors[0]);

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string TickText(double v, double step) {
  if (step >= 1) return absl::StrFormat("%.0f", v);
  const int decimals = static_cast<int>(std::ceil(-std::log10(step)));
  return absl::StrFormat("%.*f", decimals, v);
}

// One plotting area: data coordinates [0, x_max] x [0, y_max] mapped onto a
// rectangle of the SVG.
class Panel {
 public:
  Panel(int left, double x_max, double y_max)
      : left_(left),
        x_step_(NiceStep(x_max, 5)),
        y_step_(NiceStep(y_max, 5)),
        x_max_(std::max(x_step_, std::ceil(x_max / x_step_ - 1e-9) * x_step_)),
        y_max_(std::max(y_step_, std::ceil(y_max / y_step_ - 1e-9) * y_step_)) {}

  double X(double x) const { return left_ + x / x_max_ * kPanelWidth; }
  double Y(double y) const { return kTop + kPanelHeight - y / y_max_ * kPanelHeight; }

  // Frame, grid, ticks, tick labels, axis labels and the title.
  std::string Axes(std::string_view title, std::string_view x_label,
                   std::string_view y_label) const {
    std::string s = absl::StrFormat("<text x=\"%d\" y=\"%d\" class=\"title\">%s</text>\n", left_,
                                    kTop - 30, Escape(title));
    for (int i = 0; i * x_step_ <= x_max_ + 1e-9; ++i) {
      const double x = X(i * x_step_);
      absl::StrAppendFormat(&s,
                            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>\n"
                            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                            x, kTop, x, kTop + kPanelHeight + 5, x, kTop + kPanelHeight + 20,
                            TickText(i * x_step_, x_step_));
    }
    for (int i = 0; i * y_step_ <= y_max_ + 1e-9; ++i) {
      const double y = Y(i * y_step_);
      absl::StrAppendFormat(&s,
                            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>\n"
                            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                            left_ - 5, y, left_ + kPanelWidth, y, left_ - 8, y + 4,
                            TickText(i * y_step_, y_step_));
    }
    absl::StrAppendFormat(&s,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n"
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                          "transform=\"rotate(-90 %d %d)\">%s</text>\n",
                          left_, kTop, kPanelWidth, kPanelHeight, left_ + kPanelWidth / 2,
                          kTop + kPanelHeight + 42, Escape(x_label), left_ - 55,
                          kTop + kPanelHeight / 2, left_ - 55, kTop + kPanelHeight / 2,
                          Escape(y_label));
    return s;
  }

  std::string Polyline(const std::vector<std::pair<double, double>>& points, const char* color,
                       bool dashed) const {
    std::string s = absl::StrFormat(
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s "
        "points=\"",
        color, dashed ? " stroke-dasharray=\"6 4\"" : "");
    for (const auto& [x, y] : points) absl::StrAppendFormat(&s, "%.1f,%.1f ", X(x), Y(y));
    s += "\"/>\n";
    return s;
  }

  std::string NoData() const {
    return absl::StrFormat("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no data</text>\n",
                           left_ + kPanelWidth / 2, kTop + kPanelHeight / 2);
  }

  // Legend entry `row` in the panel's top-right corner.
  std::string LegendEntry(int row, const char* color, bool dashed, std::string_view text) const {
    const int x = left_ + kPanelWidth - 150;
    const int y = kTop + 16 + row * 18;
    return absl::StrFormat(
        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n"
        "<text x=\"%d\" y=\"%d\">%s</text>\n",
        x, y - 4, x + 24, y - 4, color, dashed ? " stroke-dasharray=\"6 4\"" : "", x + 30, y,
        Escape(text));
  }

 private:
  int left_;
  double x_step_, y_step_, x_max_, y_max_;
};

std::string ThroughputPanel(const BenchReport& report) {
  double x_max = 0, y_max = 0;
  bool any = false;
  for (const TargetResult& t : report.targets) {
    for (const LevelResult& l : t.levels) {
      if (l.stats.e2e_ms.count == 0) continue;
      any = true;
      x_max = std::max(x_max, l.stats.output_throughput);
      y_max = std::max(y_max, l.stats.e2e_ms.p99);
    }
  }
  const Panel panel(kLeft[0], x_max * 1.05, y_max * 1.05);
  std::string s = panel.Axes("Throughput vs latency", "output tokens/s", "end-to-end latency (ms)");
  if (!any) return s + panel.NoData();
  int row = 0;
  for (size_t ti = 0; ti < report.targets.size(); ++ti) {
    const TargetResult& t = report.targets[ti];
    const char* color = kColors[ti % kNumColors];
    std::vector<std::pair<double, double>> p50, p99;
    for (const LevelResult& l : t.levels) {
      if (l.stats.e2e_ms.count == 0) continue;
      p50.emplace_back(l.stats.output_throughput, l.stats.e2e_ms.p50);
      p99.emplace_back(l.stats.output_throughput, l.stats.e2e_ms.p99);
      absl::StrAppendFormat(&s,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n"
                            "<text x=\"%.1f\" y=\"%.1f\" class=\"small\">%s</text>\n",
                            panel.X(p50.back().first), panel.Y(p50.back().second), color,
                            panel.X(p50.back().first) + 6, panel.Y(p50.back().second) - 6,
                            Escape(LevelLabel(l)));
    }
    const std::string name = t.label.empty() ? "" : t.label + " ";
    s += panel.Polyline(p50, color, false) + panel.Polyline(p99, color, true);
    s += panel.LegendEntry(row++, color, false, name + "p50");
    s += panel.LegendEntry(row++, color, true, name + "p99");
  }
  return s;
}

std::vector<std::pair<double, double>> CdfPoints(const std::vector<double>& sorted) {
  std::vector<std::pair<double, double>> points;
  const size_t n = sorted.size();
  const size_t step = std::max<size_t>(1, n / kMaxCdfPoints);
  for (size_t i = 0; i < n; i += step) {
    points.emplace_back(sorted[i], static_cast<double>(i + 1) / static_cast<double>(n));
  }
  if (points.back().second < 1) points.emplace_back(sorted.back(), 1.0);
  return points;
}

std::string TtftPanel(const BenchReport& report) {
  double x_max = 0;
  for (const TargetResult& t : report.targets) {
    for (const LevelResult& l : t.levels) {
      if (!l.ttft_ms.empty()) x_max = std::max(x_max, l.ttft_ms.back());
    }
  }
  const Panel panel(kLeft[1], x_max * 1.05, 1.0);
  std::string s =
      panel.Axes("TTFT distribution (CDF)", "time to first token (ms)", "fraction of requests");
  if (x_max <= 0) return s + panel.NoData();
  int row = 0;
  for (size_t ti = 0; ti < report.targets.size(); ++ti) {
    const TargetResult& t = report.targets[ti];
    for (size_t li = 0; li < t.levels.size(); ++li) {
      const LevelResult& l = t.levels[li];
      if (l.ttft_ms.empty()) continue;
      const char* color = kColors[li % kNumColors];
      s += panel.Polyline(CdfPoints(l.ttft_ms), color, ti == 1);
      s += panel.LegendEntry(row++, color, ti == 1,
                             (t.label.empty() ? "" : t.label + " ") + LevelLabel(l));
    }
  }
  return s;
}

}  // namespace

double NiceStep(double max_value, int target_ticks) {
  if (!(max_value > 0) || !std::isfinite(max_value)) return 1;
  const double raw = max_value / std::max(1, target_ticks);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

std::string RenderSvg(const BenchReport& report) {
  std::string title = "surge bench";
  for (const TargetResult& t : report.targets) {
    absl::StrAppend(&title, "  ", t.label.empty() ? "" : t.label + ": ", t.url,
                    t.model.empty() ? "" : " (" + t.model + ")");
  }
  std::string s = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\">\n"
      "<style>text{font-family:sans-serif;font-size:12px;fill:#222}"
      ".title{font-size:15px;font-weight:bold}.small{font-size:10px}"
      ".grid{stroke:#ddd;stroke-width:1}.frame{fill:none;stroke:#444;stroke-width:1}</style>\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"20\" y=\"24\" class=\"title\">%s</text>\n",
      kWidth, kHeight, kWidth, kHeight, Escape(title));
  s += ThroughputPanel(report);
  s += TtftPanel(report);
  s += "</svg>\n";
  return s;
}

}  // namespace surge::bench
