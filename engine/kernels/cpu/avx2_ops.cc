// AVX2 element-wise kernels, paged attention, and the AVX2 ops table.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "engine/kernels/cpu/avx2_common.h"
#include "engine/kernels/cpu/rope.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/reference/ops_ref.h"

namespace surge::engine::kernels::internal {

const MatMulKernel* Avx2MatMulKernel(DType type);

namespace {

using avx2::Exp;
using avx2::Hsum;
using avx2::TailMask;

void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m256 ss = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    ss = _mm256_fmadd_ps(v, v, ss);
  }
  if (i < n) {
    const __m256 v = _mm256_maskload_ps(x + i, TailMask(n - i));
    ss = _mm256_fmadd_ps(v, v, ss);
  }
  const float scale = 1.0f / std::sqrt(Hsum(ss) / static_cast<float>(n) + eps);
  const __m256 s = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(v, _mm256_loadu_ps(weight + i)));
  }
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

__m256 Silu(__m256 g) {
  const __m256 e = Exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i,
                     _mm256_mul_ps(Silu(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
  }
  if (i < n) {
    const __m256i m = TailMask(n - i);
    const __m256 v =
        _mm256_mul_ps(Silu(_mm256_maskload_ps(gate + i, m)), _mm256_maskload_ps(up + i, m));
    _mm256_maskstore_ps(out + i, m, v);
  }
}

void Add(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  }
  for (; i < n; ++i) y[i] += x[i];
}

void ToHalf(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  reference::ToHalf(x + i, n - i, out + i);
}

// ---- Paged attention (head_dim % 8 == 0) --------------------------------------

// K/V row formats (PagedKv::type): Load8 returns the 8 values at element i (a
// multiple of 8) of a row as f32.
struct HalfRows {  // fp16
  static __m256 Load8(const uint8_t* row, int i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
};

struct Q8Rows {  // Q8_0 blocks: d * q, as the reference computes each value
  static __m256 Load8(const uint8_t* row, int i) {
    const uint8_t* b = row + i / kQK * static_cast<int64_t>(sizeof(BlockQ8_0));
    uint16_t h;
    std::memcpy(&h, b, sizeof(h));
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + i % kQK));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
  }
};

const uint8_t* KvRow(const void* base, const PagedKv& kv, int kv_head, int64_t p,
                     int64_t row_bytes) {
  const int64_t block = kv.block_table[p / kv.block_size];
  const int64_t slot = p % kv.block_size;
  return static_cast<const uint8_t*>(base) +
         ((block * kv.n_kv_heads + kv_head) * kv.block_size + slot) * row_bytes;
}

template <typename Rows>
float Scores(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
             float* scores) {
  const int n8 = kv.head_dim / 8;
  const int64_t rb = RowBytes(kv.type, kv.head_dim);
  float max_score = -INFINITY;
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint8_t* k = KvRow(kv.k, kv, kv_head, p, rb);
    __m256 acc = _mm256_setzero_ps();
    for (int j = 0; j < n8; ++j)
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * j), Rows::Load8(k, 8 * j), acc);
    scores[p] = Hsum(acc) * scale;
    max_score = std::max(max_score, scores[p]);
  }
  return max_score;
}

float Softmax(float* scores, int64_t n_ctx, float max_score) {
  const __m256 vmax = _mm256_set1_ps(max_score);
  __m256 sum = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + 8 <= n_ctx; p += 8) {
    const __m256 e = Exp(_mm256_sub_ps(_mm256_loadu_ps(scores + p), vmax));
    _mm256_storeu_ps(scores + p, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (p < n_ctx) {
    const __m256i m = TailMask(n_ctx - p);
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(m),
                                   Exp(_mm256_sub_ps(_mm256_maskload_ps(scores + p, m), vmax)));
    _mm256_maskstore_ps(scores + p, m, e);
    sum = _mm256_add_ps(sum, e);
  }
  return Hsum(sum);
}

// out[0..8 * kN8) = inv * sum_p scores[p] * V[p][d0 .. d0 + 8 * kN8), kN8 in
// 1..8. The width is a template argument so that the accumulators stay in
// registers (with a run-time width GCC keeps them in memory, a store-forward
// round trip on every FMA).
template <typename Rows, int kN8>
void WeightedValues(const PagedKv& kv, int kv_head, int64_t n_ctx, const float* scores, int d0,
                    float inv, float* out) {
  static_assert(kN8 >= 1 && kN8 <= 8);
  const int64_t rb = RowBytes(kv.type, kv.head_dim);
  __m256 acc[kN8];
#pragma GCC unroll 8
  for (int j = 0; j < kN8; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint8_t* v = KvRow(kv.v, kv, kv_head, p, rb);
    const __m256 s = _mm256_set1_ps(scores[p]);
#pragma GCC unroll 8
    for (int j = 0; j < kN8; ++j) acc[j] = _mm256_fmadd_ps(s, Rows::Load8(v, d0 + 8 * j), acc[j]);
  }
  const __m256 vi = _mm256_set1_ps(inv);
#pragma GCC unroll 8
  for (int j = 0; j < kN8; ++j) _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(acc[j], vi));
}

using ValuesFn = void (*)(const PagedKv&, int, int64_t, const float*, int, float, float*);

template <typename Rows, size_t... I>
constexpr std::array<ValuesFn, sizeof...(I)> ValuesTable(std::index_sequence<I...>) {
  return {&WeightedValues<Rows, static_cast<int>(I) + 1>...};
}
template <typename Rows>  // [width / 8 - 1]
constexpr auto kValuesByN8 = ValuesTable<Rows>(std::make_index_sequence<8>());

template <typename Rows>
void AttendRows(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                float* scores, float* out) {
  const float max_score = Scores<Rows>(q, kv, kv_head, n_ctx, scale, scores);
  const float sum = Softmax(scores, n_ctx, max_score);
  const float inv = n_ctx > 0 ? 1.0f / sum : 0.0f;
  for (int d0 = 0; d0 < kv.head_dim; d0 += 64) {
    const int n8 = std::min(64, kv.head_dim - d0) / 8;
    kValuesByN8<Rows>[n8 - 1](kv, kv_head, n_ctx, scores, d0, inv, out + d0);
  }
}

void AttendPaged(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
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

const OpsTable& Avx2Ops() {
  static const OpsTable table = {
      .isa = Isa::kAvx2,
      .matmul_kernel = Avx2MatMulKernel,
      .reference_matmul = nullptr,
      .rms_norm = RmsNorm,
      .rope = RopeTable,
      .silu_mul = SiluMul,
      .add = Add,
      .to_half = ToHalf,
      .attend = AttendPaged,
  };
  return table;
}

}  // namespace surge::engine::kernels::internal
