// Internal helpers for the AVX-512 translation units (compiled with AVX-512
// flags; include only from cpu/avx512_*.cc). Everything is inline in an
// ISA-named namespace so no symbol can be shared with baseline code.
//
// Thread safety: pure functions.
#pragma once

#include <immintrin.h>

#include <array>
#include <cmath>
#include <utility>

#include "engine/kernels/dtype.h"

// Fully unrolls the small loops over the rows / tokens of a register tile, so
// their accumulators live in registers.
#define SURGE_UNROLL _Pragma("GCC unroll 16")
// Inlined whatever the cost estimate (keeps a helper's accumulators in the
// caller's registers).
#define SURGE_INLINE inline __attribute__((always_inline))

namespace surge::engine::kernels::internal {
struct MatMulKernel;
}  // namespace surge::engine::kernels::internal

namespace surge::engine::kernels::internal::avx512 {

// The Q8_0 / Q4_0 MatMul kernel (avx512_matmul_quant.cc).
const MatMulKernel& QuantKernel(DType type);

// Sum of the 16 lanes in a fixed order (halves, then quarters, then pairs).
inline float Hsum(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// Hsum() of four vectors at once, with the same additions per result (IEEE
// addition is commutative), into out[0..3].
inline void Hsum4(__m512 v0, __m512 v1, __m512 v2, __m512 v3, float* out) {
  // Halves: [v.lo256 + v.hi256] for two vectors per register.
  const __m512 a01 = _mm512_add_ps(_mm512_shuffle_f32x4(v0, v1, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(v0, v1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 a23 = _mm512_add_ps(_mm512_shuffle_f32x4(v2, v3, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(v2, v3, _MM_SHUFFLE(3, 2, 3, 2)));
  // Quarters: one 128-bit lane per vector.
  const __m512 b = _mm512_add_ps(_mm512_shuffle_f32x4(a01, a23, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_f32x4(a01, a23, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 c = _mm512_add_ps(b, _mm512_permute_ps(b, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 d = _mm512_add_ps(c, _mm512_permute_ps(c, _MM_SHUFFLE(1, 1, 1, 1)));
  const __m512i idx = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
  _mm_storeu_ps(out, _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, d)));
}

// exp(x) for every lane, within a few ulp; 0 below about -103, +inf above
// 88.72 (NaN is not propagated).
inline __m512 Exp(__m512 x) {
  const __mmask16 overflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.72f), _CMP_GT_OQ);
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_mask_blend_ps(overflow, _mm512_scalef_ps(p, n), _mm512_set1_ps(INFINITY));
}

}  // namespace surge::engine::kernels::internal::avx512
