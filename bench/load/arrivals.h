// PoissonArrivals: the request arrival times of an open-loop level.
#pragma once

#include <cstdint>

#include "bench/load/rng.h"

namespace surge::bench {

// Arrivals of a Poisson process with `rate` requests per second: the gaps
// between successive arrivals are independent and exponentially distributed
// with mean 1/rate, so the count in any window of length T is Poisson with
// mean rate*T. The first arrival is one gap after time zero. The sequence is a
// pure function of (rate, seed).
//
// Thread safety: none; one instance per level.
class PoissonArrivals {
 public:
  // rate > 0 (checked by the config validation before any level runs).
  PoissonArrivals(double rate, uint64_t seed) : rate_(rate), rng_(seed) {}

  // Seconds from the start of the level to the next arrival; increasing.
  double Next() {
    now_s_ += rng_.Exponential(rate_);
    return now_s_;
  }

 private:
  double rate_;
  Rng rng_;
  double now_s_ = 0;
};

}  // namespace surge::bench
