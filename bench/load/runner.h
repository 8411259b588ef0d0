// LevelRunner: sends the requests of one load level, closed or open loop,
// and records what each one measured.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/config.h"
#include "bench/load/stats.h"
#include "bench/load/workload.h"

namespace surge::bench {

struct Target {
  TargetUrl url;
  std::string api_key;  // sent as "Authorization: Bearer <key>" when set
  BodyOptions body;     // endpoint, model, stream, ignore_eos, temperature
};

struct LevelPlan {
  LoadMode mode = LoadMode::kConcurrency;
  double value = 1;           // concurrency, or requests per second
  int64_t max_requests = 0;   // requests (open loop: arrivals) at most; 0 = no cap
  double max_duration_s = 0;  // no request starts after this; 0 = no cap
  uint64_t stream = 0;        // the workload stream (see Workload::Request)
  int64_t max_inflight = 4096;
  bool sample_memory = false;  // sample the target's /metrics for peak RSS
};

// A snapshot for the progress display.
struct Progress {
  int64_t issued = 0;
  int64_t finished = 0;
  int64_t errors = 0;
  int64_t inflight = 0;
  double elapsed_s = 0;
};

struct LevelRun {
  std::vector<RequestRecord> records;  // in completion order
  double duration_s = 0;               // first send to last completion
  bool interrupted = false;            // the stop flag ended the level early
  std::optional<double> peak_resident_bytes;
};

// Closed loop (kConcurrency): `value` workers, each sending its next request
// as soon as its previous one finished, until the caps stop new requests.
// Open loop (kRate): requests arrive as a Poisson process of `value` per
// second (seeded per level), whether or not earlier ones finished; at most
// max_inflight are in flight, later arrivals wait for a slot. Latency is
// always measured from the moment a request was due (its scheduled arrival),
// so waiting for a slot counts against the server rather than hiding.
// A closed-loop worker whose request could not connect pauses 50 ms before
// its next one, so a server that is down is not hammered.
// Requests already in flight when a cap is reached are completed; each is
// bounded by `timeout`. The stop flag (e.g. set by SIGINT) cancels what is in
// flight and ends the level at once; cancelled requests are recorded as such.
//
// Everything runs on the thread that calls Run(), on a private io_context:
// one thread carries thousands of concurrent streams (one connection each).
// Thread safety: a LevelRunner runs one level at a time; `stop` may be set
// from any thread or a signal handler.
class LevelRunner {
 public:
  LevelRunner(const Workload& workload, Target target, uint64_t seed,
              std::chrono::milliseconds timeout)
      : workload_(workload), target_(std::move(target)), seed_(seed), timeout_(timeout) {}

  // `on_progress` (may be empty) runs about every 100 ms on the calling thread.
  LevelRun Run(const LevelPlan& plan, const std::function<void(const Progress&)>& on_progress,
               const std::atomic<bool>* stop) const;

  const Target& target() const { return target_; }

 private:
  const Workload& workload_;
  const Target target_;
  const uint64_t seed_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace surge::bench
