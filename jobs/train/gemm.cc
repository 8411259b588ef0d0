#include "jobs/train/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace surge::jobs::train {
namespace {

constexpr int64_t kMr = 6;    // rows of C per kernel call
constexpr int64_t kNr = 16;   // columns of C per kernel call (two 8-float vectors)
constexpr int64_t kKc = 256;  // depth of one packed panel
constexpr int64_t kMc = 96;   // rows of A packed at once (one unit of parallel work)

// Eight floats; GCC lowers the arithmetic to whatever the target has. (Moved
// with memcpy, which compiles to unaligned vector loads and stores; helper
// functions taking or returning Vec8 would change the baseline ABI.)
typedef float Vec8 __attribute__((vector_size(32)));

// C[6, 16] = (load_c ? C : 0) + Ap · B over `kc` steps, where Ap is a packed
// panel (kc groups of 6 A values) and B is kc rows of 16 floats, ldb apart.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void Kernel6x16(
    int64_t kc, const float* ap, const float* b, int64_t ldb, float* c, int64_t ldc, bool load_c) {
  Vec8 acc[kMr][2] = {};
  if (load_c) {
#pragma GCC unroll 6
    for (int r = 0; r < kMr; ++r) std::memcpy(acc[r], c + r * ldc, sizeof(acc[r]));
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    Vec8 b0, b1;
    std::memcpy(&b0, b + kk * ldb, sizeof(b0));
    std::memcpy(&b1, b + kk * ldb + 8, sizeof(b1));
#pragma GCC unroll 6
    for (int r = 0; r < kMr; ++r) {
      const float av = ap[kk * kMr + r];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < kMr; ++r) std::memcpy(c + r * ldc, acc[r], sizeof(acc[r]));
}

struct Problem {
  int64_t m, n, k;
  StridedMatrix a;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
  bool accumulate;
};

// Packs rows [m0, m0 + rows) x depth [k0, k0 + kc) of A as consecutive 6-row
// panels (kc groups of 6), rows past the end of A padded with zeros.
void PackA(const Problem& p, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* out) {
  const int64_t rs = p.a.row_stride, cs = p.a.col_stride;
  for (int64_t t = 0; t < rows; t += kMr, out += kMr * kc) {
    for (int64_t r = 0; r < kMr; ++r) {
      const int64_t row = m0 + t + r;
      if (row >= p.m) {
        for (int64_t kk = 0; kk < kc; ++kk) out[kk * kMr + r] = 0.0f;
        continue;
      }
      const float* src = p.a.data + row * rs + k0 * cs;
      if (cs == 1) {
        for (int64_t kk = 0; kk < kc; ++kk) out[kk * kMr + r] = src[kk];
      } else {
        for (int64_t kk = 0; kk < kc; ++kk) out[kk * kMr + r] = src[kk * cs];
      }
    }
  }
}

// One 6x16 tile of C whose rows or columns run past the matrix: computed in
// a padded copy with the same kernel, so its values equal a full tile's.
void EdgeTile(int64_t kc, const float* ap, const float* b, int64_t ldb, float* c, int64_t ldc,
              int64_t rows, int64_t cols, bool load_c) {
  float tile[kMr * kNr] = {};
  if (load_c) {
    for (int64_t r = 0; r < rows; ++r) std::memcpy(tile + r * kNr, c + r * ldc, cols * 4);
  }
  Kernel6x16(kc, ap, b, ldb, tile, kNr, true);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(c + r * ldc, tile + r * kNr, cols * 4);
}

// Rows [m0, m1) of C, every column, over the whole depth.
void RowBlock(const Problem& p, int64_t m0, int64_t m1, std::vector<float>& packed,
              std::vector<float>& bpad) {
  const int64_t rows = m1 - m0;
  const int64_t padded_rows = (rows + kMr - 1) / kMr * kMr;
  for (int64_t k0 = 0; k0 < p.k; k0 += kKc) {
    const int64_t kc = std::min(kKc, p.k - k0);
    const bool load_c = p.accumulate || k0 > 0;
    PackA(p, m0, rows, k0, kc, packed.data());
    for (int64_t n0 = 0; n0 < p.n; n0 += kNr) {
      const int64_t cols = std::min(kNr, p.n - n0);
      const float* b = p.b + k0 * p.ldb + n0;
      int64_t ldb = p.ldb;
      if (cols < kNr) {  // pad the last columns of B with zeros
        std::fill(bpad.begin(), bpad.end(), 0.0f);
        for (int64_t kk = 0; kk < kc; ++kk) std::memcpy(&bpad[kk * kNr], b + kk * ldb, cols * 4);
        b = bpad.data();
        ldb = kNr;
      }
      for (int64_t t = 0; t < padded_rows; t += kMr) {
        float* c = p.c + (m0 + t) * p.ldc + n0;
        const float* ap = packed.data() + t * kc;
        const int64_t tile_rows = std::min(kMr, rows - t);
        if (tile_rows == kMr && cols == kNr) {
          Kernel6x16(kc, ap, b, ldb, c, p.ldc, load_c);
        } else {
          EdgeTile(kc, ap, b, ldb, c, p.ldc, tile_rows, cols, load_c);
        }
      }
    }
  }
}

}  // namespace

void Gemm(int64_t m, int64_t n, int64_t k, StridedMatrix a, const float* b, int64_t ldb, float* c,
          int64_t ldc, bool accumulate, engine::kernels::ThreadPool* pool) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  const Problem p{m, n, k, a, b, ldb, c, ldc, accumulate};
  const int64_t num_blocks = (m + kMc - 1) / kMc;
  auto run = [&p, m](int64_t begin, int64_t end) {
    std::vector<float> packed(static_cast<size_t>(kMc * kKc));
    std::vector<float> bpad(static_cast<size_t>(kKc * kNr));
    for (int64_t blk = begin; blk < end; ++blk) {
      RowBlock(p, blk * kMc, std::min(m, (blk + 1) * kMc), packed, bpad);
    }
  };
  if (pool == nullptr || num_blocks == 1) {
    run(0, num_blocks);
  } else {
    pool->ParallelFor(num_blocks, 1, run);
  }
}

void Transpose(const float* in, int64_t rows, int64_t cols, float* out) {
  constexpr int64_t kBlock = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
      const int64_t r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t col = c0; col < c1; ++col) out[col * rows + r] = in[r * cols + col];
      }
    }
  }
}

}  // namespace surge::jobs::train
