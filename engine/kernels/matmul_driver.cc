// The MatMul driver shared by the SIMD paths: activation preparation, the
// split of weight rows across the pool, cache blocking and tile calls.
//
// Work is handed out in units of whole row tiles from an atomic counter, so a
// slow or preempted thread does not hold up the call; which thread computes a
// row never changes its arithmetic. Within a unit, rows are walked in blocks
// sized to stay in L2 (packed first when the kernel packs), and each block
// loops over token tiles, so every weight byte is read from memory once per
// call while the token tile stays in L1.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "base/check.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/thread_pool.h"

namespace surge::engine::kernels::internal {
namespace {

constexpr int64_t kL2BlockBytes = 192 * 1024;    // weight bytes per row block (several passes)
constexpr int64_t kStreamUnitBytes = 96 * 1024;  // weight bytes per unit (one pass)
constexpr int kUnitsPerThread = 4;               // at least, for balance
constexpr int64_t kPrepParallelTokens = 8;       // prepare activations on the pool from here

int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t RoundDownAtLeast(int64_t v, int64_t m) { return std::max(m, v / m * m); }

// Sizes of one call.
struct Plan {
  bool direct;  // kernel.direct_tile, no packing
  bool pack;
  int tile_rows;
  int tile_tokens;
  int64_t block_rows;  // rows per L2 block (a multiple of tile_rows)
  int64_t unit_rows;   // rows per work unit (a multiple of block_rows or == block_rows)
  int64_t act_bytes;   // per token, 0 for raw f32 activations
  int64_t pack_bytes;  // per packed tile
};

Plan MakePlan(const MatMulKernel& kernel, const Matrix& w, int64_t n_tokens, int num_threads) {
  Plan p;
  p.direct = kernel.direct_tile != nullptr && n_tokens <= kernel.direct_max_tokens;
  p.pack = kernel.pack != nullptr && !p.direct;
  p.tile_rows = kernel.tile_rows;
  p.tile_tokens = p.direct ? kernel.direct_max_tokens : kernel.tile_tokens;
  p.act_bytes = kernel.prep_bytes ? RoundUp(kernel.prep_bytes(w.cols), 64) : 0;
  p.pack_bytes = p.pack ? RoundUp(kernel.pack_bytes(w.cols), 64) : 0;
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  const int64_t balanced = RoundUp(
      (w.rows + num_threads * kUnitsPerThread - 1) / (num_threads * kUnitsPerThread), p.tile_rows);
  if (n_tokens > p.tile_tokens) {  // several passes over each block
    const int64_t bytes_per_row = p.pack ? p.pack_bytes / p.tile_rows : row_bytes;
    p.block_rows = RoundDownAtLeast(kL2BlockBytes / bytes_per_row, p.tile_rows);
    p.block_rows = std::min(p.block_rows, balanced);
    p.unit_rows = p.block_rows;
  } else {  // one pass: stream
    p.block_rows = p.tile_rows;
    p.unit_rows = std::min(RoundDownAtLeast(kStreamUnitBytes / row_bytes, p.tile_rows), balanced);
  }
  return p;
}

}  // namespace

void MatMulTiled(const MatMulKernel& kernel, ThreadPool& pool, const Matrix& w, const float* x,
                 int64_t x_stride, int64_t n_tokens, float* out, int64_t out_stride,
                 MatMulScratch& scratch) {
  const int64_t k = w.cols;
  const int64_t row_bytes = RowBytes(w.type, k);
  const Plan p = MakePlan(kernel, w, n_tokens, pool.num_threads());
  auto* const tile = p.direct ? kernel.direct_tile : kernel.tile;

  const int64_t pack_region = p.pack_bytes * (p.block_rows / p.tile_rows);
  const int64_t total = p.act_bytes * n_tokens + pack_region * pool.num_threads() + 64;
  if (static_cast<int64_t>(scratch.bytes.size()) < total) {
    scratch.bytes.resize(static_cast<size_t>(total));
  }
  uint8_t* base = scratch.bytes.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;

  const uint8_t* acts = reinterpret_cast<const uint8_t*>(x);
  int64_t act_stride = x_stride * static_cast<int64_t>(sizeof(float));
  if (kernel.prep) {
    auto prep = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) kernel.prep(x + t * x_stride, k, base + t * p.act_bytes);
    };
    if (n_tokens >= kPrepParallelTokens) {
      std::atomic<int64_t> next{0};
      pool.RunDynamic([&](int, int) {
        for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < n_tokens;) {
          prep(t, t + 1);
        }
      });
    } else {
      prep(0, n_tokens);
    }
    acts = base;
    act_stride = p.act_bytes;
  }
  uint8_t* const packs = base + p.act_bytes * n_tokens;
  const uint8_t* const wd = static_cast<const uint8_t*>(w.data);

  // Rows [rb, re) of one L2 block: pack, then every token tile over it.
  auto run_block = [&](int64_t rb, int64_t re, uint8_t* pack_buf) {
    if (p.pack) {
      for (int64_t r = rb, i = 0; r < re; r += p.tile_rows, ++i) {
        kernel.pack(wd + r * row_bytes, row_bytes,
                    static_cast<int>(std::min<int64_t>(p.tile_rows, re - r)), k,
                    pack_buf + i * p.pack_bytes);
      }
    }
    TileArgs args;
    args.w_stride = row_bytes;
    args.x_stride = act_stride;
    args.cols = k;
    args.out_stride = out_stride;
    for (int64_t t0 = 0; t0 < n_tokens; t0 += p.tile_tokens) {
      args.x = acts + t0 * act_stride;
      args.n_tokens = static_cast<int>(std::min<int64_t>(p.tile_tokens, n_tokens - t0));
      for (int64_t r = rb, i = 0; r < re; r += p.tile_rows, ++i) {
        args.w = p.pack ? pack_buf + i * p.pack_bytes : wd + r * row_bytes;
        args.n_rows = static_cast<int>(std::min<int64_t>(p.tile_rows, re - r));
        args.out = out + t0 * out_stride + r;
        tile(args);
      }
    }
  };

  const int64_t num_units = (w.rows + p.unit_rows - 1) / p.unit_rows;
  std::atomic<int64_t> next_unit{0};
  pool.RunDynamic([&](int thread, int) {
    uint8_t* pack_buf = packs + pack_region * thread;
    for (int64_t u; (u = next_unit.fetch_add(1, std::memory_order_relaxed)) < num_units;) {
      const int64_t ue = std::min(w.rows, (u + 1) * p.unit_rows);
      for (int64_t rb = u * p.unit_rows; rb < ue; rb += p.block_rows) {
        run_block(rb, std::min(ue, rb + p.block_rows), pack_buf);
      }
    }
  });
}

}  // namespace surge::engine::kernels::internal
