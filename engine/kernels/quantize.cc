// Scalar conversions between f32 and the GGUF storage types. The rounding
// rules are the ones GGUF's reference implementation uses, so a row quantized
// here is byte-identical to one quantized by other GGUF tools.
#include "engine/kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"

namespace surge::engine::kernels {
namespace {

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// roundf(v) for |v| < 2^23 without the library call (x86-64's baseline has
// no rounding instruction, so GCC calls roundf per value): adding the
// largest float below 0.5 carries exactly the halves and above across the
// next integer, and the conversion truncates toward zero. Vectorizes.
inline int RoundHalfAway(float v) { return static_cast<int>(v + std::copysign(0.49999997f, v)); }

// Q8_0 as GGUF's reference: d = max|x| / 127, q = roundf(x / d) (ties away from zero).
void QuantizeQ8_0(const float* x, int64_t n, BlockQ8_0* out) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 blk;
    blk.d = FloatToHalf(d);
    for (int j = 0; j < kQK; ++j) blk.qs[j] = static_cast<int8_t>(RoundHalfAway(xb[j] * id));
    std::memcpy(&out[b], &blk, sizeof(blk));
  }
}

// Q4_0 as GGUF's reference: d = (value of largest magnitude) / -8,
// q = min(15, trunc(x / d + 8.5)).
void QuantizeQ4_0(const float* x, int64_t n, BlockQ4_0* out) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 blk;
    blk.d = FloatToHalf(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(xb[j] * id + 8.5f)));
      const int hi =
          std::min(15, static_cast<int>(static_cast<int8_t>(xb[j + kQK / 2] * id + 8.5f)));
      blk.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    std::memcpy(&out[b], &blk, sizeof(blk));
  }
}

}  // namespace

uint16_t FloatToHalf(float f) {
  const uint32_t x = FloatBits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) {  // NaN: quieted, top payload bits kept (as F16C does)
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (ax <= 0x33000000u) return static_cast<uint16_t>(sign);            // rounds to zero
  const uint32_t e = ax >> 23;
  if (e < 113) {  // half subnormal: q = round(value / 2^-24), ties to even
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = ((e - 112) << 10) | ((ax >> 13) & 0x3ffu);
  const uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry may reach the exponent
  return static_cast<uint16_t>(sign | h);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  if (e == 0x1f) return BitsFloat(sign | 0x7f800000u | (m << 13));  // inf / NaN
  if (e != 0) return BitsFloat(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return BitsFloat(sign);
  // Subnormal: m * 2^-24, exact in f32.
  const float v = static_cast<float>(m) * 0x1p-24f;
  return sign ? -v : v;
}

uint16_t FloatToBf16(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

float Bf16ToFloat(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

void QuantizeRow(DType type, const float* x, int64_t n, void* out) {
  SURGE_CHECK(n % Traits(type).block_size == 0);
  uint8_t* o = static_cast<uint8_t*>(out);
  switch (type) {
    case DType::kF32:
      std::memcpy(o, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = FloatToHalf(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
      }
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = FloatToBf16(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
      }
      return;
    case DType::kQ8_0:
      QuantizeQ8_0(x, n, reinterpret_cast<BlockQ8_0*>(o));
      return;
    case DType::kQ4_0:
      QuantizeQ4_0(x, n, reinterpret_cast<BlockQ4_0*>(o));
      return;
  }
  SURGE_CHECK_MSG(false, "QuantizeRow: unsupported type");
}

void DequantizeRow(DType type, const void* x, int64_t n, float* out) {
  SURGE_CHECK(n % Traits(type).block_size == 0);
  const uint8_t* p = static_cast<const uint8_t*>(x);
  switch (type) {
    case DType::kF32:
      std::memcpy(out, p, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16:
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = type == DType::kF16 ? HalfToFloat(h) : Bf16ToFloat(h);
      }
      return;
    case DType::kQ8_0:
      for (int64_t b = 0; b < n / kQK; ++b) {
        BlockQ8_0 blk;
        std::memcpy(&blk, p + b * sizeof(BlockQ8_0), sizeof(blk));
        const float d = HalfToFloat(blk.d);
        for (int j = 0; j < kQK; ++j) out[b * kQK + j] = d * static_cast<float>(blk.qs[j]);
      }
      return;
    case DType::kQ4_0:
      for (int64_t b = 0; b < n / kQK; ++b) {
        BlockQ4_0 blk;
        std::memcpy(&blk, p + b * sizeof(BlockQ4_0), sizeof(blk));
        const float d = HalfToFloat(blk.d);
        for (int j = 0; j < kQK / 2; ++j) {
          out[b * kQK + j] = d * static_cast<float>((blk.qs[j] & 0x0f) - 8);
          out[b * kQK + j + kQK / 2] = d * static_cast<float>((blk.qs[j] >> 4) - 8);
        }
      }
      return;
  }
  SURGE_CHECK_MSG(false, "DequantizeRow: unsupported type");
}

}  // namespace surge::engine::kernels
