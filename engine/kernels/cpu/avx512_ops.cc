// AVX-512 element-wise kernels, paged attention, and the AVX-512 ops table.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "engine/kernels/cpu/avx512_common.h"
#include "engine/kernels/cpu/rope.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/reference/ops_ref.h"

namespace surge::engine::kernels::internal {

const MatMulKernel* Avx512MatMulKernel(DType type);

namespace {

using avx512::Exp;
using avx512::Hsum;

__mmask16 TailMask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }

void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m512 ss = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    ss = _mm512_fmadd_ps(v, v, ss);
  }
  if (i < n) {
    const __m512 v = _mm512_maskz_loadu_ps(TailMask(n - i), x + i);
    ss = _mm512_fmadd_ps(v, v, ss);
  }
  const float scale = 1.0f / std::sqrt(Hsum(ss) / static_cast<float>(n) + eps);
  const __m512 s = _mm512_set1_ps(scale);
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), s);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(v, _mm512_loadu_ps(weight + i)));
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, weight + i)));
  }
}

__m512 Silu(__m512 g) {
  const __m512 e = Exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(Silu(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i));
    _mm512_storeu_ps(out + i, v);
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    const __m512 v =
        _mm512_mul_ps(Silu(_mm512_maskz_loadu_ps(m, gate + i)), _mm512_maskz_loadu_ps(m, up + i));
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

void Add(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_loadu_ps(x + i)));
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(
        y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
  }
}

void ToHalf(const float* x, int64_t n, uint16_t* out) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), kRound));
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), kRound));
  }
}

// ---- Paged attention ---------------------------------------------------------

// K/V row formats (PagedKv::type): Load16 returns the 16 values at element i
// (a multiple of 16) of a row as f32, Load8 the 8 at i (a multiple of 8) in
// the low lanes, the upper 8 lanes 0.
struct HalfRows {  // fp16
  static __m512 Load16(const uint8_t* row, int i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
  static __m512 Load8(const uint8_t* row, int i) {
    return _mm512_cvtph_ps(
        _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i))));
  }
};

struct Q8Rows {  // Q8_0 blocks: d * q, as the reference computes each value
  static const uint8_t* Block(const uint8_t* row, int i) {
    return row + i / kQK * static_cast<int64_t>(sizeof(BlockQ8_0));
  }
  static __m512 Scale(const uint8_t* block) {
    uint16_t h;
    std::memcpy(&h, block, sizeof(h));
    return _mm512_set1_ps(_cvtsh_ss(h));
  }
  static __m512 Load16(const uint8_t* row, int i) {
    const uint8_t* b = Block(row, i);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 + i % kQK));
    return _mm512_mul_ps(Scale(b), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
  }
  static __m512 Load8(const uint8_t* row, int i) {
    const uint8_t* b = Block(row, i);
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + i % kQK));
    return _mm512_maskz_mov_ps(
        0xff, _mm512_mul_ps(Scale(b), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q))));
  }
};

// Positions [p0, p0 + n) of one cache block: n <= block_size rows of one
// head, contiguous, `row_bytes` apart.
const uint8_t* BlockRows(const void* base, const PagedKv& kv, int kv_head, int64_t p0,
                         int64_t row_bytes) {
  const int64_t block = kv.block_table[p0 / kv.block_size];
  return static_cast<const uint8_t*>(base) +
         (block * kv.n_kv_heads + kv_head) * kv.block_size * row_bytes;
}

// Requests one cache block's rows of one head (n positions) ahead of use.
// Attention reads K/V that a whole step of weight streaming has pushed out
// of cache, in short runs per head that the hardware prefetchers pick up
// too late.
void PrefetchRows(const uint8_t* rows, int n, int64_t row_bytes) {
  const char* p = reinterpret_cast<const char*>(rows);
  const int64_t bytes = n * row_bytes;
  for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

// The widths below are template arguments where they are known: kW8 is a
// width in 8-float chunks, 0 for one known only at run time. With a run-time
// width GCC keeps WeightedValues' accumulators in memory, a store-forward
// round trip on every FMA (twice as slow at head_dim 64).

// q . k over w8 8-float chunks (16 lanes at a time, then an 8-lane tail)
// into 16 lanes.
template <typename Rows, int kW8>
__m512 DotLanes(const float* q, const uint8_t* k, int w8) {
  const int n = kW8 != 0 ? kW8 : w8;
  __m512 acc = _mm512_setzero_ps();
  int j = 0;
#pragma GCC unroll 16
  for (; j + 2 <= n; j += 2) {
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + 8 * j), Rows::Load16(k, 8 * j), acc);
  }
  if (j < n)
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(0xff, q + 8 * j), Rows::Load8(k, 8 * j), acc);
  return acc;
}

float MaxScore(const float* scores, int64_t n_ctx) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int64_t p = 0;
  for (; p + 16 <= n_ctx; p += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(scores + p));
  float max_score = _mm512_reduce_max_ps(vmax);
  for (; p < n_ctx; ++p) max_score = std::max(max_score, scores[p]);
  return max_score;
}

// scores[s] = scale * q . row s for n rows `rb` bytes apart. Four rows at a
// time share one horizontal reduction (Hsum4 adds exactly as Hsum does).
// The single-query and the group paths both score through this, so their
// scores agree bit for bit.
template <typename Rows, int kW8>
SURGE_INLINE void RowScores(const float* q, const uint8_t* k, int64_t rb, int n, int w8,
                            float scale, float* scores) {
  const __m128 vscale = _mm_set1_ps(scale);
  int s = 0;
  for (; s + 4 <= n; s += 4) {
    const __m512 a0 = DotLanes<Rows, kW8>(q, k + (s + 0) * rb, w8);
    const __m512 a1 = DotLanes<Rows, kW8>(q, k + (s + 1) * rb, w8);
    const __m512 a2 = DotLanes<Rows, kW8>(q, k + (s + 2) * rb, w8);
    const __m512 a3 = DotLanes<Rows, kW8>(q, k + (s + 3) * rb, w8);
    avx512::Hsum4(a0, a1, a2, a3, scores + s);
    _mm_storeu_ps(scores + s, _mm_mul_ps(_mm_loadu_ps(scores + s), vscale));
  }
  for (; s < n; ++s) scores[s] = Hsum(DotLanes<Rows, kW8>(q, k + s * rb, w8)) * scale;
}

// scores[p] = scale * q . K[p]; returns the maximum.
template <typename Rows, int kW8>
float Scores(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
             float* scores) {
  const int w8 = kv.head_dim / 8;
  const int64_t rb = RowBytes(kv.type, kv.head_dim);
  for (int64_t p0 = 0; p0 < n_ctx; p0 += kv.block_size) {
    const uint8_t* k = BlockRows(kv.k, kv, kv_head, p0, rb);
    const int n = static_cast<int>(std::min<int64_t>(kv.block_size, n_ctx - p0));
    // This block's values (read after the softmax) and the next block's keys.
    PrefetchRows(BlockRows(kv.v, kv, kv_head, p0, rb), n, rb);
    if (const int64_t p1 = p0 + kv.block_size; p1 < n_ctx) {
      PrefetchRows(BlockRows(kv.k, kv, kv_head, p1, rb),
                   static_cast<int>(std::min<int64_t>(kv.block_size, n_ctx - p1)), rb);
    }
    RowScores<Rows, kW8>(q, k, rb, n, w8, scale, scores + p0);
  }
  return MaxScore(scores, n_ctx);
}

// scores[p] = exp(scores[p] - max); returns the sum (16 lanes, fixed order).
float Softmax(float* scores, int64_t n_ctx, float max_score) {
  const __m512 vmax = _mm512_set1_ps(max_score);
  __m512 sum = _mm512_setzero_ps();
  int64_t p = 0;
  for (; p + 16 <= n_ctx; p += 16) {
    const __m512 e = Exp(_mm512_sub_ps(_mm512_loadu_ps(scores + p), vmax));
    _mm512_storeu_ps(scores + p, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (p < n_ctx) {
    const __mmask16 m = TailMask(n_ctx - p);
    const __m512 e =
        _mm512_maskz_mov_ps(m, Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + p), vmax)));
    _mm512_mask_storeu_ps(scores + p, m, e);
    sum = _mm512_add_ps(sum, e);
  }
  return Hsum(sum);
}

// acc += w[s] * row s [d0, d0 + 8 * kW8) for n rows `rb` bytes apart, in row
// order; shared by the single-query and group paths like RowScores.
template <typename Rows, int kW8>
SURGE_INLINE void AccumulateRows(const uint8_t* v, int64_t rb, int n, const float* w, int d0,
                                 __m512* acc) {
  constexpr int n16 = kW8 / 2;
  for (int s = 0; s < n; ++s) {
    const uint8_t* row = v + s * rb;
    const __m512 ws = _mm512_set1_ps(w[s]);
#pragma GCC unroll 8
    for (int j = 0; j < n16; ++j)
      acc[j] = _mm512_fmadd_ps(ws, Rows::Load16(row, d0 + 16 * j), acc[j]);
    if constexpr (kW8 % 2 != 0)
      acc[n16] = _mm512_fmadd_ps(ws, Rows::Load8(row, d0 + 16 * n16), acc[n16]);
  }
}

// out[0..8 * kW8) = inv * sum_p scores[p] * V[p][d0 .. d0 + 8 * kW8), kW8 in 1..16.
template <typename Rows, int kW8>
void WeightedValues(const PagedKv& kv, int kv_head, int64_t n_ctx, const float* scores, int d0,
                    float inv, float* out) {
  static_assert(kW8 >= 1 && kW8 <= 16);
  constexpr int n16 = kW8 / 2;
  constexpr bool tail8 = kW8 % 2 != 0;
  const int64_t rb = RowBytes(kv.type, kv.head_dim);
  __m512 acc[n16 + tail8];
#pragma GCC unroll 8
  for (__m512& a : acc) a = _mm512_setzero_ps();
  for (int64_t p0 = 0; p0 < n_ctx; p0 += kv.block_size) {
    const int n = static_cast<int>(std::min<int64_t>(kv.block_size, n_ctx - p0));
    AccumulateRows<Rows, kW8>(BlockRows(kv.v, kv, kv_head, p0, rb), rb, n, scores + p0, d0, acc);
  }
  const __m512 vi = _mm512_set1_ps(inv);
#pragma GCC unroll 8
  for (int j = 0; j < n16; ++j) _mm512_storeu_ps(out + 16 * j, _mm512_mul_ps(acc[j], vi));
  if constexpr (tail8) _mm512_mask_storeu_ps(out + 16 * n16, 0xff, _mm512_mul_ps(acc[n16], vi));
}

using ValuesFn = void (*)(const PagedKv&, int, int64_t, const float*, int, float, float*);
using AttendFn = void (*)(const float*, const PagedKv&, int, int64_t, float, float*, float*);

// A head of width 8 * kW8; kW8 = 0: any multiple of 8 above 128, its values
// in 128-wide slices.
template <typename Rows, int kW8>
void AttendHead(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                float* scores, float* out);

template <typename Rows, size_t... I>
constexpr std::array<ValuesFn, sizeof...(I)> ValuesTable(std::index_sequence<I...>) {
  return {&WeightedValues<Rows, static_cast<int>(I) + 1>...};
}
template <typename Rows, size_t... I>
constexpr std::array<AttendFn, sizeof...(I)> AttendTable(std::index_sequence<I...>) {
  return {&AttendHead<Rows, static_cast<int>(I) + 1>...};
}
template <typename Rows>  // [w8 - 1]
constexpr auto kValuesByW8 = ValuesTable<Rows>(std::make_index_sequence<16>());

template <typename Rows, int kW8>
void AttendHead(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                float* scores, float* out) {
  const float max_score = Scores<Rows, kW8>(q, kv, kv_head, n_ctx, scale, scores);
  const float sum = Softmax(scores, n_ctx, max_score);
  const float inv = n_ctx > 0 ? 1.0f / sum : 0.0f;
  if constexpr (kW8 != 0) {
    WeightedValues<Rows, kW8>(kv, kv_head, n_ctx, scores, 0, inv, out);
  } else {
    for (int d0 = 0; d0 < kv.head_dim; d0 += 128) {
      const int w8 = std::min(128, kv.head_dim - d0) / 8;
      kValuesByW8<Rows>[w8 - 1](kv, kv_head, n_ctx, scores, d0, inv, out + d0);
    }
  }
}

template <typename Rows>  // [w8 - 1]
constexpr auto kAttendByW8 = AttendTable<Rows>(std::make_index_sequence<16>());

template <typename Rows>
void AttendRows(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                float* scores, float* out) {
  if (kv.head_dim <= 128) {
    kAttendByW8<Rows>[kv.head_dim / 8 - 1](q, kv, kv_head, n_ctx, scale, scores, out);
  } else {
    AttendHead<Rows, 0>(q, kv, kv_head, n_ctx, scale, scores, out);
  }
}

void AttendOne(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
               float* scores, float* out);

// ---- Several queries over one cache (AttendPagedGroup) ---------------------
//
// Each cache block's K (then V) rows are widened once into f32 scratch, and
// every query runs the single-query arithmetic over the scratch (RowScores,
// Softmax, AccumulateRows: the same operations in the same order; the
// accumulators wait in the scratch between blocks, stored exactly).
// Widening is exact (fp16 -> f32, or d * q as Q8Rows computes it), so every
// result is bit for bit AttendPaged()'s.

struct FloatRows {  // rows already widened to f32
  static __m512 Load16(const uint8_t* row, int i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static __m512 Load8(const uint8_t* row, int i) {
    return _mm512_maskz_loadu_ps(0xff, reinterpret_cast<const float*>(row) + i);
  }
};

// Rows [0, n) of one cache block as f32, head_dim floats apart.
template <typename Rows, int kW8>
void WidenRows(const uint8_t* rows, int n, int64_t row_bytes, float* out) {
  constexpr int n16 = kW8 / 2;
  for (int s = 0; s < n; ++s) {
    const uint8_t* r = rows + s * row_bytes;
    float* o = out + s * 8 * kW8;
    SURGE_UNROLL
    for (int j = 0; j < n16; ++j) _mm512_storeu_ps(o + 16 * j, Rows::Load16(r, 16 * j));
    if constexpr (kW8 % 2 != 0) _mm512_mask_storeu_ps(o + 16 * n16, 0xff, Rows::Load8(r, 16 * n16));
  }
}

// acc (kept in `acc_mem`) += w[s] * V[s] over n widened rows.
template <int kW8>
void WidenedValues(const float* v, int n, const float* w, float* acc_mem) {
  constexpr int n16 = kW8 / 2;
  constexpr bool tail8 = kW8 % 2 != 0;
  __m512 acc[n16 + tail8];
  SURGE_UNROLL
  for (int j = 0; j < n16; ++j) acc[j] = _mm512_loadu_ps(acc_mem + 16 * j);
  if constexpr (tail8) acc[n16] = _mm512_maskz_loadu_ps(0xff, acc_mem + 16 * n16);
  AccumulateRows<FloatRows, kW8>(reinterpret_cast<const uint8_t*>(v), 8 * kW8 * sizeof(float), n, w,
                                 0, acc);
  SURGE_UNROLL
  for (int j = 0; j < n16; ++j) _mm512_storeu_ps(acc_mem + 16 * j, acc[j]);
  if constexpr (tail8) _mm512_mask_storeu_ps(acc_mem + 16 * n16, 0xff, acc[n16]);
}

template <typename Rows, int kW8>
void AttendGroupRows(std::span<const AttendQuery> queries, const PagedKv& kv, int kv_head,
                     float scale, float* scratch) {
  constexpr int hd = 8 * kW8;
  // Widened rows, then an accumulator per query, all cache-line aligned: a
  // row never splits a line, and the outputs (which neighbouring calls on
  // other threads may share lines with) are written once, at the end.
  float* const rows = scratch + (16 - reinterpret_cast<uintptr_t>(scratch) / 4 % 16) % 16;
  float* const accs = rows + static_cast<int64_t>(kv.block_size) * hd;
  const int64_t rb = RowBytes(kv.type, kv.head_dim);
  int64_t n_max = 0;
  for (const AttendQuery& a : queries) n_max = std::max(n_max, a.n_ctx);
  for (int64_t p0 = 0; p0 < n_max; p0 += kv.block_size) {
    const int n = static_cast<int>(std::min<int64_t>(kv.block_size, n_max - p0));
    PrefetchRows(BlockRows(kv.v, kv, kv_head, p0, rb), n, rb);
    if (const int64_t p1 = p0 + kv.block_size; p1 < n_max) {
      PrefetchRows(BlockRows(kv.k, kv, kv_head, p1, rb),
                   static_cast<int>(std::min<int64_t>(kv.block_size, n_max - p1)), rb);
    }
    WidenRows<Rows, kW8>(BlockRows(kv.k, kv, kv_head, p0, rb), n, rb, rows);
    for (const AttendQuery& a : queries) {
      if (a.n_ctx <= p0) continue;
      const int na = static_cast<int>(std::min<int64_t>(kv.block_size, a.n_ctx - p0));
      RowScores<FloatRows, kW8>(a.q, reinterpret_cast<const uint8_t*>(rows), hd * sizeof(float), na,
                                kW8, scale, a.scores + p0);
    }
  }
  float inv[kMaxAttendGroup];
  for (size_t i = 0; i < queries.size(); ++i) {
    const AttendQuery& a = queries[i];
    const float sum = Softmax(a.scores, a.n_ctx, MaxScore(a.scores, a.n_ctx));
    inv[i] = a.n_ctx > 0 ? 1.0f / sum : 0.0f;
  }
  std::fill_n(accs, queries.size() * hd, 0.0f);
  for (int64_t p0 = 0; p0 < n_max; p0 += kv.block_size) {
    const int n = static_cast<int>(std::min<int64_t>(kv.block_size, n_max - p0));
    WidenRows<Rows, kW8>(BlockRows(kv.v, kv, kv_head, p0, rb), n, rb, rows);
    for (size_t i = 0; i < queries.size(); ++i) {
      const AttendQuery& a = queries[i];
      if (a.n_ctx <= p0) continue;
      const int na = static_cast<int>(std::min<int64_t>(kv.block_size, a.n_ctx - p0));
      WidenedValues<kW8>(rows, na, a.scores + p0, accs + i * hd);
    }
  }
  for (size_t i = 0; i < queries.size(); ++i) {  // out = acc * inv, as WeightedValues ends
    const float* acc = accs + i * hd;
    float* out = queries[i].out;
    const __m512 vi = _mm512_set1_ps(inv[i]);
    int d = 0;
    for (; d + 16 <= hd; d += 16)
      _mm512_storeu_ps(out + d, _mm512_mul_ps(_mm512_loadu_ps(acc + d), vi));
    if (d < hd) {
      _mm512_mask_storeu_ps(out + d, 0xff, _mm512_mul_ps(_mm512_maskz_loadu_ps(0xff, acc + d), vi));
    }
  }
}

using GroupFn = void (*)(std::span<const AttendQuery>, const PagedKv&, int, float, float*);
template <typename Rows, size_t... I>
constexpr std::array<GroupFn, sizeof...(I)> GroupTable(std::index_sequence<I...>) {
  return {&AttendGroupRows<Rows, static_cast<int>(I) + 1>...};
}
template <typename Rows>  // [w8 - 1]
constexpr auto kGroupByW8 = GroupTable<Rows>(std::make_index_sequence<16>());

void AttendGroup(std::span<const AttendQuery> queries, const PagedKv& kv, int kv_head, float scale,
                 float* scratch) {
  SURGE_DCHECK(queries.size() <= kMaxAttendGroup);
  const bool f16 = kv.type == DType::kF16 && kv.head_dim % 8 == 0;
  const bool q8 = kv.type == DType::kQ8_0 && kv.head_dim % kQK == 0;
  if ((f16 || q8) && kv.head_dim <= 128) {
    const int w8 = kv.head_dim / 8;
    (f16 ? kGroupByW8<HalfRows> : kGroupByW8<Q8Rows>)[w8 - 1](queries, kv, kv_head, scale, scratch);
    return;
  }
  for (const AttendQuery& a : queries) {  // wider heads: one query at a time
    AttendOne(a.q, kv, kv_head, a.n_ctx, scale, a.scores, a.out);
  }
}

void AttendOne(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
               float* scores, float* out) {
  if (kv.type == DType::kF16 && kv.head_dim % 8 == 0) {
    AttendRows<HalfRows>(q, kv, kv_head, n_ctx, scale, scores, out);
  } else if (kv.type == DType::kQ8_0 && kv.head_dim % kQK == 0) {
    AttendRows<Q8Rows>(q, kv, kv_head, n_ctx, scale, scores, out);
  } else {
    reference::AttendPaged(q, kv, kv_head, n_ctx, scale, scores, out);
  }
}

}  // namespace

const OpsTable& Avx512Ops() {
  static const OpsTable table = {
      .isa = Isa::kAvx512,
      .matmul_kernel = Avx512MatMulKernel,
      .reference_matmul = nullptr,
      .rms_norm = RmsNorm,
      .rope = RopeTable,
      .silu_mul = SiluMul,
      .add = Add,
      .to_half = ToHalf,
      .attend = AttendOne,
      .attend_group = AttendGroup,
  };
  return table;
}

}  // namespace surge::engine::kernels::internal
