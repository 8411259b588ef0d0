// Gemm is the one matrix product the trainer is built on: every linear
// layer's forward and both of its backward products, and the attention
// score and value products, are C (+)= A · B with A read through strides
// (so A may be a transposed view) and B and C row-major.
//
// Determinism: every element of C is c0 + a0*b0 + a1*b1 + ... summed in the
// order k = 0, 1, ..., K-1 (each step one fused multiply-add where the CPU
// has FMA), where c0 is C's old value or 0. The tiling and the split across
// threads are fixed by the shapes alone and every element is computed whole
// by one thread, so the result is bitwise the same for any thread count and
// any position of the element inside a tile.
// Speed: a register-tiled 6x16 kernel over packed panels of A, built for
// AVX2+FMA and for baseline x86-64, picked at load time (target_clones).
//
// Thread safety: the function is reentrant; callers must not let C overlap
// A or B, nor two concurrent calls write the same C.
#pragma once

#include <cstdint>

#include "engine/kernels/thread_pool.h"

namespace surge::jobs::train {

// A view of an M x K matrix: A[m, k] = data[m * row_stride + k * col_stride].
struct StridedMatrix {
  const float* data;
  int64_t row_stride;
  int64_t col_stride;

  // The row-major matrix at `data` with `ld` floats per row.
  static StridedMatrix RowMajor(const float* data, int64_t ld) { return {data, ld, 1}; }
  // The transpose of the row-major matrix at `data` with `ld` floats per row.
  static StridedMatrix Transposed(const float* data, int64_t ld) { return {data, 1, ld}; }
};

// C[M, N] = (accumulate ? C : 0) + A[M, K] · B[K, N], with B and C row-major
// (ldb, ldc floats per row). `pool` may be null (runs on the caller only).
void Gemm(int64_t m, int64_t n, int64_t k, StridedMatrix a, const float* b, int64_t ldb, float* c,
          int64_t ldc, bool accumulate, engine::kernels::ThreadPool* pool);

// out[cols, rows] = in[rows, cols]^T, both row-major and dense.
void Transpose(const float* in, int64_t rows, int64_t cols, float* out);

}  // namespace surge::jobs::train
