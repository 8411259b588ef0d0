// AVX-512 MatMul tiles.
//
// F32 / F16 / BF16 weights: each (row, token) output owns one 16-lane f32
// accumulator; K is walked in 16-element chunks (a masked chunk for the tail)
// with one FMA per chunk, then Hsum() reduces the lanes in a fixed order. A
// tile holds up to 4 rows x 6 tokens; shape never changes that sequence.
//
// Quantized weights live in avx512_matmul_quant.cc.
#include <immintrin.h>

#include <cstring>

#include "engine/kernels/cpu/avx512_common.h"
#include "engine/kernels/cpu/prefetch.h"
#include "engine/kernels/kernel_table.h"

namespace surge::engine::kernels::internal {
namespace {

// ---- F32 / F16 / BF16 ------------------------------------------------------

constexpr int kFloatRows = 4;
constexpr int kFloatTokens = 6;

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m512 Full(const uint8_t* p, int64_t k) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + k);
  }
  static __m512 Tail(const uint8_t* p, int64_t k, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + k);
  }
};

struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m512 Full(const uint8_t* p, int64_t k) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * k)));
  }
  static __m512 Tail(const uint8_t* p, int64_t k, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * k));
  }
};

struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m512 Widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 Full(const uint8_t* p, int64_t k) {
    return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * k)));
  }
  static __m512 Tail(const uint8_t* p, int64_t k, __mmask16 m) {
    return Widen(_mm256_maskz_loadu_epi16(m, p + 2 * k));
  }
};

template <class L, int R, int T>
void FloatTile(const TileArgs& a) {
  const uint8_t* w[R];
  const float* x[T];
  SURGE_UNROLL
  for (int r = 0; r < R; ++r) w[r] = a.w + r * a.w_stride;
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(a.x + t * a.x_stride);
  __m512 acc[R][T];
  SURGE_UNROLL
  for (int r = 0; r < R; ++r) {
    SURGE_UNROLL
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  const int64_t n = a.cols;
  int64_t k = 0;
  const AheadPrefetch ahead(a, n / 16);
  for (; k + 16 <= n; k += 16) {
    ahead(k / 16);
    if constexpr (T > 1) {  // rows come from L2, re-read per token tile: hide its latency
      SURGE_UNROLL
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(w[r] + (k + 256) * L::kBytes), _MM_HINT_T0);
    }
    __m512 wv[R];
    SURGE_UNROLL
    for (int r = 0; r < R; ++r) wv[r] = L::Full(w[r], k);
    SURGE_UNROLL
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_loadu_ps(x[t] + k);
      SURGE_UNROLL
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (k < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - k)) - 1);
    __m512 wv[R];
    SURGE_UNROLL
    for (int r = 0; r < R; ++r) wv[r] = L::Tail(w[r], k, m);
    SURGE_UNROLL
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + k);
      SURGE_UNROLL
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) {
    if constexpr (R == 4) {
      avx512::Hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t], a.out + t * a.out_stride);
    } else {
      SURGE_UNROLL
      for (int r = 0; r < R; ++r) a.out[t * a.out_stride + r] = avx512::Hsum(acc[r][t]);
    }
  }
}

using TileFn = void (*)(const TileArgs&);
using TileRow = std::array<TileFn, kFloatTokens>;

template <class L, int R, int... Ts>
constexpr TileRow RowTiles(std::integer_sequence<int, Ts...>) {
  return {&FloatTile<L, R, Ts + 1>...};
}

template <class L, int... Rs>
constexpr std::array<TileRow, sizeof...(Rs)> TileTable(std::integer_sequence<int, Rs...>) {
  return {RowTiles<L, Rs + 1>(std::make_integer_sequence<int, kFloatTokens>{})...};
}

template <class L>
void FloatTileDispatch(const TileArgs& a) {
  static constexpr auto kTable = TileTable<L>(std::make_integer_sequence<int, kFloatRows>{});
  kTable[a.n_rows - 1][a.n_tokens - 1](a);
}

template <class L>
constexpr MatMulKernel FloatKernel() {
  MatMulKernel k{};
  k.tile_rows = kFloatRows;
  k.tile_tokens = kFloatTokens;
  k.tile = &FloatTileDispatch<L>;
  return k;
}

constexpr MatMulKernel kF32 = FloatKernel<LoadF32>();
constexpr MatMulKernel kF16 = FloatKernel<LoadF16>();
constexpr MatMulKernel kBF16 = FloatKernel<LoadBF16>();

}  // namespace

const MatMulKernel* Avx512MatMulKernel(DType type) {
  const MatMulKernel* k = &kF32;
  switch (type) {
    case DType::kF32:
      k = &kF32;
      break;
    case DType::kF16:
      k = &kF16;
      break;
    case DType::kBF16:
      k = &kBF16;
      break;
    case DType::kQ8_0:
    case DType::kQ4_0:
      k = &avx512::QuantKernel(type);
      break;
  }
  return k;
}

}  // namespace surge::engine::kernels::internal
