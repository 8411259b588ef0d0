// AVX2 MatMul tiles.
//
// F32 / F16 / BF16 weights: each (row, token) output owns one 8-lane f32
// accumulator; K is walked in 8-element chunks (a zero-padded chunk for the
// tail) with one FMA each, then Hsum() reduces the lanes in a fixed order.
// Tiles hold up to 4 rows x 3 tokens.
//
// Q8_0 / Q4_0 weights: panels of 8 rows read directly. For each row and block
// the exact integer dot product is formed (vpmaddubsw with the sign trick for
// q8, unsigned nibbles plus the -8 * sum(x) correction from prep for q4; no
// pair sum can saturate), the 8 rows' sums are gathered into one vector, and
// each lane does acc = fma(float(isum), d_w * d_x, acc) over the blocks in
// order: the reference arithmetic (reference/ops_ref.h), bit for bit.
#include <immintrin.h>

#include <array>
#include <cstring>
#include <utility>

#include "engine/kernels/cpu/avx2_common.h"
#include "engine/kernels/cpu/prefetch.h"
#include "engine/kernels/kernel_table.h"

namespace surge::engine::kernels::internal {
namespace {

using avx2::Hsum;

constexpr int kFloatRows = 4;
constexpr int kFloatTokens = 3;

struct LoadF32 {
  static __m256 Full(const uint8_t* p, int64_t k) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + k);
  }
  static __m256 Tail(const uint8_t* p, int64_t k, int64_t n) {
    return _mm256_maskload_ps(reinterpret_cast<const float*>(p) + k, avx2::TailMask(n));
  }
};

struct LoadF16 {
  static __m256 Full(const uint8_t* p, int64_t k) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * k)));
  }
  static __m256 Tail(const uint8_t* p, int64_t k, int64_t n) {
    return _mm256_cvtph_ps(avx2::LoadHalfTail(p + 2 * k, n));
  }
};

struct LoadBF16 {
  static __m256 Widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static __m256 Full(const uint8_t* p, int64_t k) {
    return Widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * k)));
  }
  static __m256 Tail(const uint8_t* p, int64_t k, int64_t n) {
    return Widen(avx2::LoadHalfTail(p + 2 * k, n));
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
  __m256 acc[R][T];
  SURGE_UNROLL
  for (int r = 0; r < R; ++r) {
    SURGE_UNROLL
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  const int64_t n = a.cols;
  int64_t k = 0;
  const AheadPrefetch ahead(a, n / 8);
  for (; k + 8 <= n; k += 8) {
    ahead(k / 8);
    __m256 wv[R];
    SURGE_UNROLL
    for (int r = 0; r < R; ++r) wv[r] = L::Full(w[r], k);
    SURGE_UNROLL
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_loadu_ps(x[t] + k);
      SURGE_UNROLL
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (k < n) {
    __m256 wv[R];
    SURGE_UNROLL
    for (int r = 0; r < R; ++r) wv[r] = L::Tail(w[r], k, n - k);
    SURGE_UNROLL
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_maskload_ps(x[t] + k, avx2::TailMask(n - k));
      SURGE_UNROLL
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) {
    SURGE_UNROLL
    for (int r = 0; r < R; ++r) a.out[t * a.out_stride + r] = Hsum(acc[r][t]);
  }
}

template <class L, int R, int... Ts>
constexpr std::array<void (*)(const TileArgs&), sizeof...(Ts)> RowTiles(
    std::integer_sequence<int, Ts...>) {
  return {&FloatTile<L, R, Ts + 1>...};
}

template <class L>
void FloatTileDispatch(const TileArgs& a) {
  using Seq = std::make_integer_sequence<int, kFloatTokens>;
  static constexpr std::array<std::array<void (*)(const TileArgs&), kFloatTokens>, kFloatRows>
      kTable = {RowTiles<L, 1>(Seq{}), RowTiles<L, 2>(Seq{}), RowTiles<L, 3>(Seq{}),
                RowTiles<L, 4>(Seq{})};
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

// ---- Q8_0 / Q4_0 -----------------------------------------------------------

constexpr int kPanelRows = 8;
constexpr int kQuantTokens = 4;

// Prepared activations of one token: [q: nb * 32][d: nb floats][corr: nb int32].
int64_t PrepBytes(int64_t cols) { return cols / kQK * (kQK + 8); }

// One chunk per token (prep_chunk_cols 0), so chunk_stride is unused.
template <int kOffset>
void PrepQuant(const float* x, int64_t cols, uint8_t* out, int64_t /*chunk_stride*/) {
  const int64_t nb = cols / kQK;
  float* d = reinterpret_cast<float*>(out + nb * kQK);
  int32_t* corr = reinterpret_cast<int32_t*>(out + nb * (kQK + 4));
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < nb; ++b) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + b * kQK + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float dd = _mm_cvtss_f32(m) / 127.0f;
    const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
    const __m256i sum =
        _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    // packs interleave 128-bit lanes; the permute restores element order.
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + b * kQK), ordered);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    d[b] = dd;
    corr[b] = -kOffset * _mm_cvtsi128_si32(s);
  }
}

template <DType kType>
constexpr int64_t kBlockBytes = kType == DType::kQ8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);

// 8 int32 partial sums of block b of one row against activations xq.
template <DType kType>
SURGE_INLINE __m256i BlockPartials(const uint8_t* row, int64_t b, const uint8_t* xq) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * kQK));
  const uint8_t* qs = row + b * kBlockBytes<kType> + 2;
  __m256i p16;
  if constexpr (kType == DType::kQ8_0) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  } else {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    p16 = _mm256_maddubs_epi16(_mm256_and_si256(both, _mm256_set1_epi8(0x0f)), x);
  }
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// Lane j = sum of the 8 lanes of p[j].
SURGE_INLINE __m256i ReduceRows(const __m256i* p) {
  const __m256i t0 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
  const __m256i t1 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(t0, t1, 0x20),
                          _mm256_permute2x128_si256(t0, t1, 0x31));
}

template <DType kType, int T>
void QuantTile(const TileArgs& a) {
  const int64_t nb = a.cols / kQK;
  const uint8_t* rows[kPanelRows];
  for (int j = 0; j < kPanelRows; ++j) rows[j] = a.w + (j < a.n_rows ? j : 0) * a.w_stride;
  const uint8_t* xq[T];
  const float* dx[T];
  const int32_t* corr[T];
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) {
    xq[t] = a.x + t * a.x_stride;
    dx[t] = reinterpret_cast<const float*>(xq[t] + nb * kQK);
    corr[t] = reinterpret_cast<const int32_t*>(xq[t] + nb * (kQK + 4));
  }
  __m256 acc[T];
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  const uint8_t* next = a.w + kPanelRows * a.w_stride;
  const int64_t step = (kPanelRows * a.w_stride / nb + 63) / 64 * 64;
  const AheadPrefetch ahead(a, nb);
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t p = 0; p < step; p += 64) _mm_prefetch(next + b * step + p, _MM_HINT_T1);
    ahead(b);
    uint16_t scales[kPanelRows];
    for (int j = 0; j < kPanelRows; ++j)
      std::memcpy(&scales[j], rows[j] + b * kBlockBytes<kType>, 2);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
    SURGE_UNROLL
    for (int t = 0; t < T; ++t) {
      __m256i p[kPanelRows];
      SURGE_UNROLL
      for (int j = 0; j < kPanelRows; ++j) p[j] = BlockPartials<kType>(rows[j], b, xq[t]);
      const __m256i isum = _mm256_add_epi32(ReduceRows(p), _mm256_set1_epi32(corr[t][b]));
      const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(dx[t][b]));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc[t]);
    }
  }
  const __m256i m = avx2::TailMask(a.n_rows);
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) _mm256_maskstore_ps(a.out + t * a.out_stride, m, acc[t]);
}

template <DType kType>
void QuantTileDispatch(const TileArgs& a) {
  switch (a.n_tokens) {
    case 1:
      return QuantTile<kType, 1>(a);
    case 2:
      return QuantTile<kType, 2>(a);
    case 3:
      return QuantTile<kType, 3>(a);
    default:
      return QuantTile<kType, 4>(a);
  }
}

template <DType kType>
constexpr MatMulKernel QuantKernel() {
  MatMulKernel k{};
  k.tile_rows = kPanelRows;
  k.tile_tokens = kQuantTokens;
  k.prep_bytes = &PrepBytes;
  k.prep = &PrepQuant < kType == DType::kQ8_0 ? 0 : 8 > ;
  k.tile = &QuantTileDispatch<kType>;
  return k;
}

constexpr MatMulKernel kF32 = FloatKernel<LoadF32>();
constexpr MatMulKernel kF16 = FloatKernel<LoadF16>();
constexpr MatMulKernel kBF16 = FloatKernel<LoadBF16>();
constexpr MatMulKernel kQ8_0 = QuantKernel<DType::kQ8_0>();
constexpr MatMulKernel kQ4_0 = QuantKernel<DType::kQ4_0>();

}  // namespace

const MatMulKernel* Avx2MatMulKernel(DType type) {
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
      k = &kQ8_0;
      break;
    case DType::kQ4_0:
      k = &kQ4_0;
      break;
  }
  return k;
}

}  // namespace surge::engine::kernels::internal
