// AVX-512 MatMul tiles for Q8_0 / Q4_0 weights.
//
// Q8_0 / Q4_0 weights: panels of 16 rows are repacked so that one 64-byte
// vector holds the same 4 bytes of one block for all 16 rows (unsigned: q8 + 128,
// or the raw nibble). vpdpbusd against the token's broadcast 4 activation
// bytes then leaves each row's exact integer block sum in its own lane, after
// the offset correction -128 * sum(x) (q8) or -8 * sum(x) (q4) that prep stores
// per block. Each lane then does acc = fma(float(isum), d_w * d_x, acc) over
// the blocks in order: the reference arithmetic (reference/ops_ref.h), bit for bit.
#include <immintrin.h>

#include <cstring>

#include "base/check.h"
#include "engine/kernels/cpu/avx512_common.h"
#include "engine/kernels/cpu/prefetch.h"
#include "engine/kernels/kernel_table.h"

namespace surge::engine::kernels::internal {
namespace {

// ---- Q8_0 / Q4_0 -----------------------------------------------------------

constexpr int kPanelRows = 16;
constexpr int kQuantTokens = 8;    // per packed tile
constexpr int kDirectTokens = 16;  // per direct tile, and the most a call runs direct
constexpr int64_t kPackedBlockBytes = 8 * 64 + 16 * 4;  // 8 byte-chunks + 16 scales

// Prepared activations of one token, one chunk per block: [q: 32 int8]
// [d: f32][corr: int32]. The driver interleaves a tile's tokens block by block
// (kernel_table.h), so block b of token t is at x + b * x_chunk_stride +
// t * kActBlockBytes: one pointer per block reaches every token at a constant
// offset, which keeps the 128 broadcast operands of a block in [reg + disp]
// form. (With a pointer per token, 16 tokens and 16 row pointers spill, and
// indexed operands split in two uops on Intel cores: 20% slower there.)
constexpr int64_t kActBlockBytes = kQK + 8;
int64_t PrepBytes(int64_t cols) { return cols / kQK * kActBlockBytes; }

template <int kOffset>
void PrepQuant(const float* x, int64_t cols, uint8_t* out, int64_t chunk_stride) {
  const int64_t nb = cols / kQK;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = out + b * chunk_stride;
    const __m512 lo = _mm512_loadu_ps(x + b * kQK);
    const __m512 hi = _mm512_loadu_ps(x + b * kQK + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    const float dd = amax / 127.0f;
    const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, _mm512_set1_ps(id)));
    const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, _mm512_set1_ps(id)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm512_cvtsepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 16), _mm512_cvtsepi32_epi8(qhi));
    const int32_t corr = -kOffset * _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
    std::memcpy(o + kQK, &dd, 4);
    std::memcpy(o + kQK + 4, &corr, 4);
  }
}

int64_t PackBytes(int64_t cols) { return cols / kQK * kPackedBlockBytes; }

// Loads 16 bytes at `off` of rows g, g+4, g+8, g+12 into the four 128-bit lanes.
SURGE_INLINE __m512i LoadRowQuad(const uint8_t* const* rows, int g, int64_t off) {
  auto load = [&](int j) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[j] + off));
  };
  __m512i z = _mm512_castsi128_si512(load(g));
  z = _mm512_inserti32x4(z, load(g + 4), 1);
  z = _mm512_inserti32x4(z, load(g + 8), 2);
  return _mm512_inserti32x4(z, load(g + 12), 3);
}

// A 4x4 dword transpose inside each 128-bit lane: t[i] lane k element g =
// z[g] lane k element i.
SURGE_INLINE void TransposeInLanes(__m512i z0, __m512i z1, __m512i z2, __m512i z3, __m512i* t) {
  const __m512i a = _mm512_unpacklo_epi32(z0, z1), b = _mm512_unpackhi_epi32(z0, z1);
  const __m512i e = _mm512_unpacklo_epi32(z2, z3), f = _mm512_unpackhi_epi32(z2, z3);
  t[0] = _mm512_unpacklo_epi64(a, e);
  t[1] = _mm512_unpackhi_epi64(a, e);
  t[2] = _mm512_unpacklo_epi64(b, f);
  t[3] = _mm512_unpackhi_epi64(b, f);
}

// Transposes 16 rows x 4 dwords (at `off` of each row) into c[0..3]: c[i] holds
// dword i of rows 0..15 in lane order.
SURGE_INLINE void Transpose16x4(const uint8_t* const* rows, int64_t off, __m512i* c) {
  TransposeInLanes(LoadRowQuad(rows, 0, off), LoadRowQuad(rows, 1, off), LoadRowQuad(rows, 2, off),
                   LoadRowQuad(rows, 3, off), c);
}

// Transposes 16 rows x 8 dwords (the 32 bytes at `off` of each row) into
// c[0..7]: c[i] holds dword i of rows 0..15 in lane order. Each input vector
// pairs two rows' 32 bytes; the in-lane transpose then leaves dwords i and
// 4 + i side by side, and one lane shuffle per output sorts them. Fewer
// shuffles and loads than two Transpose16x4.
SURGE_INLINE void Transpose16x8(const uint8_t* const* rows, int64_t off, __m512i* c) {
  auto load = [&](int j) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[j] + off));
  };
  auto pair = [&](int a, int b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(load(a)), load(b), 1);
  };
  // Rows per vector chosen so that the outputs come out in row order.
  __m512i lo[4], hi[4];
  TransposeInLanes(pair(0, 4), pair(1, 5), pair(2, 6), pair(3, 7), lo);
  TransposeInLanes(pair(8, 12), pair(9, 13), pair(10, 14), pair(11, 15), hi);
  SURGE_UNROLL
  for (int i = 0; i < 4; ++i) {
    c[i] = _mm512_shuffle_i32x4(lo[i], hi[i], 0x88);      // 128-bit lanes 0, 2 of each
    c[i + 4] = _mm512_shuffle_i32x4(lo[i], hi[i], 0xdd);  // lanes 1, 3 of each
  }
}

SURGE_INLINE int LoadU16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// The fp16 values at `off` of rows[J...] in 16-bit lanes J.
template <size_t... J>
SURGE_INLINE __m128i LoadHalfLanes(const uint8_t* const* rows, int64_t off,
                                   std::index_sequence<J...>) {
  __m128i v = _mm_setzero_si128();
  ((v = _mm_insert_epi16(v, LoadU16(rows[J] + off), J)), ...);
  return v;
}

// The 16 fp16 scales at `off` of each row, as f32 (scalar loads: cheaper than
// a gather on Zen 4).
SURGE_INLINE __m512 LoadScales(const uint8_t* const* rows, int64_t off) {
  const __m128i lo = LoadHalfLanes(rows, off, std::make_index_sequence<8>{});
  const __m128i hi = LoadHalfLanes(rows + 8, off, std::make_index_sequence<8>{});
  return _mm512_cvtph_ps(_mm256_set_m128i(hi, lo));
}

template <DType kType>
constexpr int64_t kBlockBytes = kType == DType::kQ8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);

// Block b of 16 rows as 8 vectors of unsigned bytes: c[i] lane j = elements
// 4i..4i+3 of row j (q8 + 128, or the q4 nibble).
template <DType kType>
SURGE_INLINE void LoadPanelBlock(const uint8_t* const* rows, int64_t b, __m512i* c) {
  const int64_t off = b * kBlockBytes<kType> + 2;
  if constexpr (kType == DType::kQ8_0) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    Transpose16x8(rows, off, c);
    SURGE_UNROLL
    for (int i = 0; i < 8; ++i) c[i] = _mm512_xor_si512(c[i], flip);
  } else {
    const __m512i low = _mm512_set1_epi8(0x0f);
    Transpose16x4(rows, off, c);
    SURGE_UNROLL
    for (int i = 0; i < 4; ++i) {
      c[i + 4] = _mm512_and_si512(_mm512_srli_epi16(c[i], 4), low);
      c[i] = _mm512_and_si512(c[i], low);
    }
  }
}

void PanelRows(const uint8_t* w, int64_t stride, int n_rows, const uint8_t** rows) {
  for (int j = 0; j < kPanelRows; ++j) rows[j] = w + (j < n_rows ? j : 0) * stride;
}

// Streams the panel after next (rows are contiguous) into L2, a 1/nb share
// per block, while PackQuant reads this one: the 16 interleaved row streams of
// a panel defeat the hardware prefetchers. (The driver's look-ahead has
// usually fetched them already; not for a thread's first unit of a call.)
class PanelPrefetch {
 public:
  PanelPrefetch(const uint8_t* panel, int64_t stride, int64_t nb)
      : next_(panel + 2 * kPanelRows * stride), step_((kPanelRows * stride / nb + 63) / 64 * 64) {}
  void operator()(int64_t b) const {
    for (int64_t p = 0; p < step_; p += 64) _mm_prefetch(next_ + b * step_ + p, _MM_HINT_T1);
  }

 private:
  const uint8_t* next_;
  int64_t step_;
};

template <DType kType>
void PackQuant(const uint8_t* w, int64_t stride, int n_rows, int64_t cols, uint8_t* out) {
  const uint8_t* rows[kPanelRows];
  PanelRows(w, stride, n_rows, rows);
  const int64_t nb = cols / kQK;
  const PanelPrefetch prefetch(w, stride, nb);
  for (int64_t b = 0; b < nb; ++b) {
    prefetch(b);
    uint8_t* o = out + b * kPackedBlockBytes;
    __m512i c[8];
    LoadPanelBlock<kType>(rows, b, c);
    for (int i = 0; i < 8; ++i) _mm512_store_si512(o + i * 64, c[i]);
    _mm512_store_ps(o + 512, LoadScales(rows, b * kBlockBytes<kType>));
  }
}

// A tile's prepared activations, interleaved block by block.
struct TokenActs {
  explicit TokenActs(const TileArgs& a) : x(a.x), block_stride(a.x_chunk_stride) {
    SURGE_DCHECK(a.x_stride == kActBlockBytes);  // tokens at fixed offsets
  }
  const uint8_t* Block(int64_t b) const { return x + b * block_stride; }
  // Activation bytes 4c..4c+3 of token t in block `blk`.
  static const int32_t* Quad(const uint8_t* blk, int t, int c) {
    return reinterpret_cast<const int32_t*>(blk + t * kActBlockBytes + 4 * c);
  }
  static float Scale(const uint8_t* blk, int t) {
    float v;
    std::memcpy(&v, blk + t * kActBlockBytes + kQK, 4);
    return v;
  }
  static int32_t Corr(const uint8_t* blk, int t) {
    int32_t v;
    std::memcpy(&v, blk + t * kActBlockBytes + kQK + 4, 4);
    return v;
  }
  const uint8_t* x;
  int64_t block_stride;
};

// s + the per-lane dot product of w with *x broadcast to every lane, the
// broadcast taken straight from memory ({1to16}). GCC turns the intrinsic
// form into a separate vpbroadcastd per call, which costs about 4% of the
// tile's throughput on Zen 4.
SURGE_INLINE __m512i DotBroadcast(__m512i s, __m512i w, const int32_t* x) {
#if defined(__GNUC__) && !defined(__clang__)
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(s) : "v"(w), "m"(*x));
  return s;
#else
  return _mm512_dpbusd_epi32(s, w, _mm512_set1_epi32(*x));
#endif
}

// acc[t] = fma(float(isum_b), dw * dx_t, acc[t]) for block b of 16 rows, for
// tokens [t0, t0 + N).
template <int N>
SURGE_INLINE void QuantBlockTokens(const __m512i* w, __m512 dw, const uint8_t* blk, int t0,
                                   __m512* acc) {
  // With few tokens the 8 dependent vpdpbusd would be latency-bound: split
  // them in two chains (integer sums, so the split changes nothing).
  constexpr bool kSplit = N <= 2;
  __m512i s[N], s2[N];
  SURGE_UNROLL
  for (int t = 0; t < N; ++t) {
    s[t] = _mm512_set1_epi32(TokenActs::Corr(blk, t0 + t));
    if constexpr (kSplit) s2[t] = _mm512_setzero_si512();
  }
  SURGE_UNROLL
  for (int c = 0; c < 8; c += 2) {
    SURGE_UNROLL
    for (int t = 0; t < N; ++t) {
      s[t] = DotBroadcast(s[t], w[c], TokenActs::Quad(blk, t0 + t, c));
      if constexpr (kSplit) {
        s2[t] = DotBroadcast(s2[t], w[c + 1], TokenActs::Quad(blk, t0 + t, c + 1));
      } else {
        s[t] = DotBroadcast(s[t], w[c + 1], TokenActs::Quad(blk, t0 + t, c + 1));
      }
    }
  }
  SURGE_UNROLL
  for (int t = 0; t < N; ++t) {
    const __m512i total = kSplit ? _mm512_add_epi32(s[t], s2[t]) : s[t];
    const __m512 isum = _mm512_cvtepi32_ps(total);
    acc[t0 + t] = _mm512_fmadd_ps(
        isum, _mm512_mul_ps(dw, _mm512_set1_ps(TokenActs::Scale(blk, t0 + t))), acc[t0 + t]);
  }
}

// Every token of the tile, at most 8 integer sums live at once (with the 8
// weight vectors and T accumulators, more would not fit the 32 registers).
template <int T>
SURGE_INLINE void QuantBlock(const __m512i* w, __m512 dw, const TokenActs& x, int64_t b,
                             __m512* acc) {
  constexpr int kChunk = 8;
  const uint8_t* blk = x.Block(b);
  SURGE_UNROLL
  for (int t0 = 0; t0 + kChunk <= T; t0 += kChunk) QuantBlockTokens<kChunk>(w, dw, blk, t0, acc);
  if constexpr (T % kChunk != 0) QuantBlockTokens<T % kChunk>(w, dw, blk, T / kChunk * kChunk, acc);
}

template <int T>
void StoreRows(const TileArgs& a, const __m512* acc) {
  const __mmask16 m = static_cast<__mmask16>((1u << a.n_rows) - 1);
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(a.out + t * a.out_stride, m, acc[t]);
}

// Tile over a packed panel (many tokens).
template <int T>
void QuantTile(const TileArgs& a) {
  const int64_t nb = a.cols / kQK;
  const TokenActs x(a);
  __m512 acc[T];
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  const AheadPrefetch prefetch(a, nb);
  for (int64_t b = 0; b < nb; ++b) {
    prefetch(b);
    const uint8_t* pb = a.w + b * kPackedBlockBytes;
    __m512i w[8];
    SURGE_UNROLL
    for (int i = 0; i < 8; ++i) w[i] = _mm512_load_si512(pb + i * 64);
    QuantBlock<T>(w, _mm512_load_ps(pb + 512), x, b, acc);
  }
  StoreRows<T>(a, acc);
}

// Tile straight from the weight rows (few tokens: packing would not pay).
template <DType kType, int T>
void QuantTileDirect(const TileArgs& a) {
  const int64_t nb = a.cols / kQK;
  const TokenActs x(a);
  const uint8_t* rows[kPanelRows];
  PanelRows(a.w, a.w_stride, a.n_rows, rows);
  __m512 acc[T];
  SURGE_UNROLL
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  const AheadPrefetch prefetch(a, nb);
  for (int64_t b = 0; b < nb; ++b) {
    prefetch(b);
    __m512i w[8];
    LoadPanelBlock<kType>(rows, b, w);
    QuantBlock<T>(w, LoadScales(rows, b * kBlockBytes<kType>), x, b, acc);
  }
  StoreRows<T>(a, acc);
}

template <int... Ts>
constexpr std::array<void (*)(const TileArgs&), sizeof...(Ts)> QuantTiles(
    std::integer_sequence<int, Ts...>) {
  return {&QuantTile<Ts + 1>...};
}

void QuantTileDispatch(const TileArgs& a) {
  static constexpr auto kTable = QuantTiles(std::make_integer_sequence<int, kQuantTokens>{});
  kTable[a.n_tokens - 1](a);
}

template <DType kType, int... Ts>
constexpr std::array<void (*)(const TileArgs&), sizeof...(Ts)> DirectTiles(
    std::integer_sequence<int, Ts...>) {
  return {&QuantTileDirect<kType, Ts + 1>...};
}

template <DType kType>
void QuantTileDirectDispatch(const TileArgs& a) {
  static constexpr auto kTable =
      DirectTiles<kType>(std::make_integer_sequence<int, kDirectTokens>{});
  kTable[a.n_tokens - 1](a);
}

template <DType kType>
constexpr MatMulKernel QuantKernel() {
  MatMulKernel k{};
  k.tile_rows = kPanelRows;
  k.tile_tokens = kQuantTokens;
  k.prep_bytes = &PrepBytes;
  k.prep_chunk_cols = kQK;
  k.prep = &PrepQuant < kType == DType::kQ8_0 ? 128 : 8 > ;
  k.pack_bytes = &PackBytes;
  k.pack = &PackQuant<kType>;
  k.tile = &QuantTileDispatch;
  // Up to 16 tokens, one direct pass beats packing plus two packed passes:
  // the in-register transposes run on other ports than the dot products.
  k.direct_max_tokens = kDirectTokens;
  k.direct_tile = &QuantTileDirectDispatch<kType>;
  return k;
}

constexpr MatMulKernel kQ8_0 = QuantKernel<DType::kQ8_0>();
constexpr MatMulKernel kQ4_0 = QuantKernel<DType::kQ4_0>();

}  // namespace

const MatMulKernel& avx512::QuantKernel(DType type) { return type == DType::kQ8_0 ? kQ8_0 : kQ4_0; }

}  // namespace surge::engine::kernels::internal
