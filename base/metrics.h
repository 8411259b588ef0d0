// A small Prometheus metrics registry: counters, gauges and histograms, each
// a family with fixed label names and any number of label values, rendered
// in the Prometheus text exposition format (version 0.0.4).
//
// Model: metrics are registered once (at startup) and updated from any
// thread; updates are lock-free atomics on an existing series. Looking up a
// series by label values takes the family's lock once; hot paths keep the
// returned reference. Label cardinality is the caller's to bound.
// Ownership: the registry owns every family and series; references stay valid
// for the registry's lifetime.
// Thread safety: thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace surge::base {

class Counter {
 public:
  void Inc(double v = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound (le), then the +Inf count; and the sum.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 buckets
  std::atomic<double> sum_{0.0};
};

using Labels = std::vector<std::string>;  // values, in the family's label-name order

template <typename T>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  // The series for these label values (created on first use).
  T& With(const Labels& values);
  T& Get() { return With({}); }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(label values, series) for every series, in label order.
  void ForEach(const std::function<void(const Labels&, const T&)>& fn) const;

 private:
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable absl::Mutex mu_;
  std::map<Labels, std::unique_ptr<T>> series_ ABSL_GUARDED_BY(mu_);
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();

  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<double> bounds,
                                  std::vector<std::string> labels = {});
  // A gauge whose value is computed at scrape time (queue depth, KV usage).
  void AddCallbackGauge(std::string name, std::string help, std::function<double()> fn);
  // A counter kept elsewhere (e.g. by the engine loop), read at scrape time.
  void AddCallbackCounter(std::string name, std::string help, std::function<double()> fn);

  // The Prometheus text format, with the process metrics
  // (process_cpu_seconds_total, process_resident_memory_bytes,
  // process_open_fds, process_start_time_seconds) appended.
  std::string Render() const;

 private:
  struct Entry;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

// Latency buckets in seconds, spanning 1 ms to 60 s.
std::vector<double> LatencyBuckets();

}  // namespace surge::base
