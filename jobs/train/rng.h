// Rng is the trainer's one source of randomness: xoshiro256** seeded through
// splitmix64. Its whole state is four words that a checkpoint stores, so a
// resumed run draws exactly the numbers the uninterrupted run would have.
// Normal draws use plain float arithmetic (no libm, no std distributions),
// so the same seed gives the same weights on every build.
//
// Thread safety: not thread-safe; one owner draws from it.
#pragma once

#include <array>
#include <cstdint>

namespace surge::jobs::train {

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& word : s_) word = SplitMix64(x);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n) for n >= 1 (a modulo; its bias, below n / 2^64, is
  // far under anything a training run could notice).
  uint64_t Below(uint64_t n) { return Next() % n; }

  // ~N(0, 1): four 24-bit uniforms summed, centred and scaled to unit variance.
  float Normal() {
    constexpr float kUnit = 1.0f / 16777216.0f;
    constexpr float kScale = 1.7320508f;  // sqrt(12 / 4)
    const uint64_t a = Next(), b = Next();
    const float u =
        static_cast<float>(a >> 40) * kUnit + static_cast<float>((a >> 8) & 0xffffff) * kUnit +
        static_cast<float>(b >> 40) * kUnit + static_cast<float>((b >> 8) & 0xffffff) * kUnit;
    return (u - 2.0f) * kScale;
  }

  const State& state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

  static uint64_t SplitMix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  State s_;
};

}  // namespace surge::jobs::train
