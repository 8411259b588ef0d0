#include "engine/kernels/quantize.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace surge::engine::kernels {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

__attribute__((target("f16c"))) uint16_t HardwareHalf(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

TEST(QuantizeTest, HalfRoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f)))) << h;
      continue;
    }
    EXPECT_EQ(FloatToHalf(f), h) << h;
  }
}

TEST(QuantizeTest, HalfKnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // halfway to the next: even is inf
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(FloatToHalf(0x1p-24f), 0x0001);
  EXPECT_EQ(FloatToHalf(0x1p-25f), 0x0000);         // tie to even (zero)
  EXPECT_EQ(FloatToHalf(0x1.8p-24f), 0x0002);       // 1.5 ulp: tie to even (2)
  EXPECT_EQ(FloatToHalf(1.0f + 0x1p-11f), 0x3c00);  // tie: stays even
  EXPECT_EQ(FloatToHalf(1.0f + 0x3p-11f), 0x3c02);  // tie: rounds up to even
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(std::nanf("")) & 0x7e00, 0x7e00);
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
}

TEST(QuantizeTest, HalfMatchesF16cHardware) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C";
  std::mt19937 rng(1);
  for (int i = 0; i < 2'000'000; ++i) {
    uint32_t u = rng();
    if (i % 2) u = (u & 0x8fffffffu) | 0x30000000u;  // concentrate on the half range
    const float f = FromBits(u);
    ASSERT_EQ(FloatToHalf(f), HardwareHalf(f)) << std::hex << u;
  }
}

TEST(QuantizeTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBf16(FromBits(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(FloatToBf16(FromBits(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(FloatToBf16(FromBits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(FloatToBf16(FromBits(0x7f800001u)) & 0x7fc0, 0x7fc0);  // NaN stays NaN, quiet
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = Bf16ToFloat(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      EXPECT_EQ(FloatToBf16(f), h);
    }
    EXPECT_EQ(Bits(f), h << 16);
  }
}

std::vector<float> RandomRow(int n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

TEST(QuantizeTest, Q8_0RoundTripError) {
  const int n = 32 * 64;
  const std::vector<float> x = RandomRow(n, 2, 3.0f);
  std::vector<uint8_t> q(static_cast<size_t>(RowBytes(DType::kQ8_0, n)));
  QuantizeRow(DType::kQ8_0, x.data(), n, q.data());
  std::vector<float> y(n);
  DequantizeRow(DType::kQ8_0, q.data(), n, y.data());
  for (int b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[b * 32 + j]));
    for (int j = 0; j < 32; ++j) {
      // half a step, plus the fp16 rounding of d (relative 2^-11 of up to 127 steps)
      EXPECT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), amax / 127 * 0.5f + amax * 0x1p-10f);
    }
  }
}

TEST(QuantizeTest, Q4_0RoundTripError) {
  const int n = 32 * 64;
  const std::vector<float> x = RandomRow(n, 3, 1.0f);
  std::vector<uint8_t> q(static_cast<size_t>(RowBytes(DType::kQ4_0, n)));
  QuantizeRow(DType::kQ4_0, x.data(), n, q.data());
  std::vector<float> y(n);
  DequantizeRow(DType::kQ4_0, q.data(), n, y.data());
  for (int b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[b * 32 + j]));
    // Half a step, except a full step at the end opposite the largest value (clamped to 15).
    for (int j = 0; j < 32; ++j) {
      EXPECT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), amax / 8 + amax * 0x1p-8f);
    }
  }
}

TEST(QuantizeTest, Q4_0KnownBlock) {
  // Largest magnitude -4 at index 3: d = 0.5, q = trunc(x / 0.5 + 8.5).
  std::vector<float> x(32, 0.0f);
  x[3] = -4.0f;
  x[0] = 1.0f;
  x[16] = 3.9f;   // 7.8 + 8.5 = 16.3 -> clamped to 15
  x[17] = -0.3f;  // -0.6 + 8.5 = 7.9 -> 7
  BlockQ4_0 blk;
  QuantizeRow(DType::kQ4_0, x.data(), 32, &blk);
  EXPECT_EQ(HalfToFloat(blk.d), 0.5f);
  EXPECT_EQ(blk.qs[3] & 0xf, 0);
  EXPECT_EQ(blk.qs[0] & 0xf, 10);
  EXPECT_EQ(blk.qs[0] >> 4, 15);
  EXPECT_EQ(blk.qs[1] >> 4, 7);
  EXPECT_EQ(blk.qs[2] & 0xf, 8);
}

TEST(QuantizeTest, Q8_0KnownBlockRoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1
  x[1] = 2.5f;    // -> 3 (ties away from zero, as roundf)
  x[2] = -2.5f;   // -> -3
  BlockQ8_0 blk;
  QuantizeRow(DType::kQ8_0, x.data(), 32, &blk);
  EXPECT_EQ(HalfToFloat(blk.d), 1.0f);
  EXPECT_EQ(blk.qs[0], 127);
  EXPECT_EQ(blk.qs[1], 3);
  EXPECT_EQ(blk.qs[2], -3);
}

TEST(QuantizeTest, Q8_0RoundsAsRoundfDoes) {
  // Every float within 4 ulps of each half-integer and integer up to 127,
  // and a million random ones in range: the quantizer's rounding is roundf's.
  auto check = [](float v) {
    if (std::fabs(v) > 127.0f) return;  // beyond the block's maximum
    float x[kQK] = {127.0f, v};         // d = 1: q = round(v) exactly
    BlockQ8_0 b;
    QuantizeRow(DType::kQ8_0, x, kQK, &b);
    ASSERT_EQ(b.qs[1], static_cast<int8_t>(std::roundf(v))) << v;
  };
  for (int k = -254; k <= 254; ++k) {
    float v = static_cast<float>(k) / 2.0f;
    for (int i = 0; i < 4; ++i) v = std::nextafter(v, -1000.0f);
    for (int i = 0; i < 9; ++i, v = std::nextafter(v, 1000.0f)) check(v);
  }
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> dist(-127.0f, 127.0f);
  for (int i = 0; i < 1000000; ++i) check(dist(rng));
}

TEST(QuantizeTest, FloatTypesRoundTrip) {
  const std::vector<float> x = RandomRow(64, 4, 10.0f);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    std::vector<uint8_t> q(static_cast<size_t>(RowBytes(t, 64)));
    QuantizeRow(t, x.data(), 64, q.data());
    std::vector<float> y(64);
    DequantizeRow(t, q.data(), 64, y.data());
    const float rel = t == DType::kF32 ? 0.0f : t == DType::kF16 ? 0x1p-11f : 0x1p-8f;
    for (int i = 0; i < 64; ++i) EXPECT_LE(std::fabs(x[i] - y[i]), std::fabs(x[i]) * rel);
  }
}

}  // namespace
}  // namespace surge::engine::kernels
