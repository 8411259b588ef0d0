#include "base/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <variant>

namespace surge::base {
namespace {

void AtomicAdd(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest decimal that reads back as the same double.
  char buf[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string EscapeLabel(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string LabelSet(const std::vector<std::string>& names, const Labels& values,
                     const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + EscapeLabel(values[i]) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

// Process figures from /proc (Linux).
void RenderProcess(std::ostringstream& os) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = content.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(content.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    // After the command: state(0) ... utime(11) stime(12) ... starttime(19) vsize(20) rss(21).
    if (f.size() > 21) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      os << "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "
         << FormatValue(cpu) << "\n";
      const double rss = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
      os << "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes "
         << FormatValue(rss) << "\n";
      std::ifstream uptime("/proc/uptime");
      double up = 0;
      uptime >> up;
      std::time_t now = std::time(nullptr);
      const double start = static_cast<double>(now) - up + std::stod(f[19]) / ticks;
      os << "# HELP process_start_time_seconds Start time of the process since unix epoch.\n"
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds "
         << FormatValue(std::floor(start)) << "\n";
    }
  }
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++fds;
    closedir(d);
    fds -= 3;  // ".", ".." and the directory's own fd
  }
  os << "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds "
     << fds << "\n";
}

}  // namespace

void Counter::Inc(double v) { AtomicAdd(value_, v); }
void Gauge::Add(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i)
    out[i] = acc += counts_[i].load(std::memory_order_relaxed);
  return out;
}

template <typename T>
T& Family<T>::With(const Labels& values) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<T>& slot = series_[values];
  if (!slot) slot = make_();
  return *slot;
}

template <typename T>
void Family<T>::ForEach(const std::function<void(const Labels&, const T&)>& fn) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, series] : series_) fn(labels, *series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct MetricsRegistry::Entry {
  std::string name, help, type;
  std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, std::function<double()>>
      metric;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

Family<Counter>& MetricsRegistry::AddCounter(std::string name, std::string help,
                                             std::vector<std::string> labels) {
  auto f = std::make_unique<Family<Counter>>(std::move(labels),
                                             [] { return std::make_unique<Counter>(); });
  Family<Counter>& ref = *f;
  absl::MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), "counter", std::move(f)}));
  return ref;
}

Family<Gauge>& MetricsRegistry::AddGauge(std::string name, std::string help,
                                         std::vector<std::string> labels) {
  auto f =
      std::make_unique<Family<Gauge>>(std::move(labels), [] { return std::make_unique<Gauge>(); });
  Family<Gauge>& ref = *f;
  absl::MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), "gauge", std::move(f)}));
  return ref;
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                 std::vector<double> bounds,
                                                 std::vector<std::string> labels) {
  auto f = std::make_unique<Family<Histogram>>(
      std::move(labels), [bounds] { return std::make_unique<Histogram>(bounds); });
  Family<Histogram>& ref = *f;
  absl::MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), "histogram", std::move(f)}));
  return ref;
}

void MetricsRegistry::AddCallbackGauge(std::string name, std::string help,
                                       std::function<double()> fn) {
  absl::MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), "gauge", std::move(fn)}));
}

void MetricsRegistry::AddCallbackCounter(std::string name, std::string help,
                                         std::function<double()> fn) {
  absl::MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), "counter", std::move(fn)}));
}

std::string MetricsRegistry::Render() const {
  std::ostringstream os;
  absl::MutexLock lock(&mu_);
  for (const auto& e : entries_) {
    os << "# HELP " << e->name << " " << e->help << "\n# TYPE " << e->name << " " << e->type
       << "\n";
    if (auto* c = std::get_if<std::unique_ptr<Family<Counter>>>(&e->metric)) {
      (*c)->ForEach([&](const Labels& l, const Counter& s) {
        os << e->name << LabelSet((*c)->label_names(), l) << " " << FormatValue(s.value()) << "\n";
      });
    } else if (auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&e->metric)) {
      (*g)->ForEach([&](const Labels& l, const Gauge& s) {
        os << e->name << LabelSet((*g)->label_names(), l) << " " << FormatValue(s.value()) << "\n";
      });
    } else if (auto* h = std::get_if<std::unique_ptr<Family<Histogram>>>(&e->metric)) {
      (*h)->ForEach([&](const Labels& l, const Histogram& s) {
        std::vector<uint64_t> counts = s.CumulativeCounts();
        for (size_t i = 0; i <= s.bounds().size(); ++i) {
          const std::string le =
              "le=\"" + (i < s.bounds().size() ? FormatValue(s.bounds()[i]) : "+Inf") + "\"";
          os << e->name << "_bucket" << LabelSet((*h)->label_names(), l, le) << " " << counts[i]
             << "\n";
        }
        os << e->name << "_sum" << LabelSet((*h)->label_names(), l) << " " << FormatValue(s.sum())
           << "\n";
        os << e->name << "_count" << LabelSet((*h)->label_names(), l) << " " << counts.back()
           << "\n";
      });
    } else {
      os << e->name << " " << FormatValue(std::get<std::function<double()>>(e->metric)()) << "\n";
    }
  }
  RenderProcess(os);
  return os.str();
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4,
          0.5,   0.75,   1.0,   1.5,  2.0,   2.5,  5.0,   7.5, 10.0, 20.0, 30.0, 60.0};
}

}  // namespace surge::base
