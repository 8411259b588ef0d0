// Rng: the deterministic random source of `surge bench`. Prompts, output
// lengths and arrival times all come from it, so one --seed gives the same
// load on every run, every machine and both servers of a --compare.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace surge::bench {

// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit generator whose output is
// fixed by its definition. The standard library's distributions are not
// (their algorithms differ between implementations), so the few we need are
// written out here.
//
// Thread safety: none; one Rng per user.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1) with 53 random bits.
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [lo, hi] (lo <= hi). The modulo bias is below 2^-40
  // for the spans used here (at most a few million).
  int64_t UniformInt(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(Next() % span);
  }

  // Exponentially distributed with the given rate (mean 1/rate), by
  // inversion: -ln(1 - U) / rate with U uniform in [0, 1).
  double Exponential(double rate) { return -std::log1p(-UniformDouble()) / rate; }

 private:
  uint64_t state_;
};

// Mixes several values into one seed, so streams for different purposes
// (prompt k, request i of level j, arrivals of level j) do not overlap.
inline uint64_t MixSeed(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull));
  r.Next();
  return r.Next();
}

inline uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c) { return MixSeed(MixSeed(a, b), c); }

// A stable 64-bit hash of a tag (FNV-1a), to name seed streams.
inline uint64_t SeedTag(std::string_view tag) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : tag) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace surge::bench
