// The MatMul driver shared by the SIMD paths: activation preparation, the
// split of weight rows across the pool, cache blocking and tile calls.
//
// Work is handed out in units of whole row tiles from an atomic counter, so a
// slow or preempted thread holds up at most the units it has claimed (its
// current one and, in multi-pass calls, the next); which thread computes a
// row never changes its arithmetic. Within a unit, rows are walked in blocks
// sized to stay in L2 (packed first when the kernel packs), and each block
// loops over token tiles, so every weight byte is read from memory once per
// call while the token tile stays in L1. With several token tiles per block,
// a thread claims its next unit one ahead and its tiles prefetch that unit's
// rows, so the weight stream overlaps the arithmetic.
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
  int64_t passes;  // token tiles per row block
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
  p.passes = (n_tokens + p.tile_tokens - 1) / p.tile_tokens;
  p.act_bytes = kernel.prep_bytes ? RoundUp(kernel.prep_bytes(w.cols), 64) : 0;
  p.pack_bytes = p.pack ? RoundUp(kernel.pack_bytes(w.cols), 64) : 0;
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  const int64_t balanced = RoundUp(
      (w.rows + num_threads * kUnitsPerThread - 1) / (num_threads * kUnitsPerThread), p.tile_rows);
  if (p.passes > 1) {  // several passes over each block
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

// Activations in the form the kernel reads: prepared once per token into
// `base` (quantized), or the caller's f32 rows.
struct Acts {
  const uint8_t* data;
  int64_t stride;  // bytes between tokens
};

Acts PrepareActivations(const MatMulKernel& kernel, ThreadPool& pool, const float* x,
                        int64_t x_stride, int64_t n_tokens, int64_t k, int64_t act_bytes,
                        uint8_t* base) {
  if (!kernel.prep) {
    return {reinterpret_cast<const uint8_t*>(x), x_stride * static_cast<int64_t>(sizeof(float))};
  }
  if (n_tokens >= kPrepParallelTokens) {
    std::atomic<int64_t> next{0};
    pool.RunDynamic([&](int, int) {
      for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < n_tokens;) {
        kernel.prep(x + t * x_stride, k, base + t * act_bytes);
      }
    });
  } else {
    for (int64_t t = 0; t < n_tokens; ++t) kernel.prep(x + t * x_stride, k, base + t * act_bytes);
  }
  return {base, act_bytes};
}

// Bytes of weight rows.
struct Span {
  const uint8_t* data = nullptr;
  int64_t bytes = 0;
};

// Rows [rb, re) of one L2 block of one matrix: pack, then every token tile
// over it. The tiles also pull `ahead` (the weights this thread packs next)
// toward L2, a slice each, so that the memory stream overlaps the arithmetic
// instead of stalling the next pack.
void RunBlock(const MatMulKernel& kernel, const Plan& p, const MatMulOut& m, const Acts& acts,
              int64_t n_tokens, int64_t rb, int64_t re, uint8_t* pack_buf, Span ahead) {
  const int64_t row_bytes = RowBytes(m.w.type, m.w.cols);
  const uint8_t* const wd = static_cast<const uint8_t*>(m.w.data);
  auto* const tile = p.direct ? kernel.direct_tile : kernel.tile;
  if (p.pack) {
    for (int64_t r = rb, i = 0; r < re; r += p.tile_rows, ++i) {
      kernel.pack(wd + r * row_bytes, row_bytes,
                  static_cast<int>(std::min<int64_t>(p.tile_rows, re - r)), m.w.cols,
                  pack_buf + i * p.pack_bytes);
    }
  }
  TileArgs args;
  args.w_stride = row_bytes;
  args.x_stride = acts.stride;
  args.cols = m.w.cols;
  args.out_stride = m.out_stride;
  const int64_t tiles = p.passes * ((re - rb + p.tile_rows - 1) / p.tile_rows);
  const int64_t slice = RoundUp((ahead.bytes + tiles - 1) / tiles, 64);
  int64_t ahead_off = 0;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += p.tile_tokens) {
    args.x = acts.data + t0 * acts.stride;
    args.n_tokens = static_cast<int>(std::min<int64_t>(p.tile_tokens, n_tokens - t0));
    for (int64_t r = rb, i = 0; r < re; r += p.tile_rows, ++i) {
      args.w = p.pack ? pack_buf + i * p.pack_bytes : wd + r * row_bytes;
      args.n_rows = static_cast<int>(std::min<int64_t>(p.tile_rows, re - r));
      args.out = m.out + t0 * m.out_stride + r;
      args.ahead_bytes = std::clamp<int64_t>(ahead.bytes - ahead_off, 0, slice);
      args.ahead = args.ahead_bytes > 0 ? ahead.data + ahead_off : nullptr;
      ahead_off += args.ahead_bytes;
      tile(args);
    }
  }
}

}  // namespace

// The group's matrices share the activations and one queue of work units:
// unit u belongs to the matrix whose range [first_unit, first_unit + units)
// holds it, so threads move from one matrix to the next without a join.
void MatMulTiled(const MatMulKernel& kernel, ThreadPool& pool, std::span<const MatMulOut> group,
                 const float* x, int64_t x_stride, int64_t n_tokens, MatMulScratch& scratch) {
  constexpr size_t kMaxGroup = 8;
  SURGE_CHECK(!group.empty() && group.size() <= kMaxGroup);
  const int64_t k = group[0].w.cols;
  Plan plans[kMaxGroup];
  int64_t first_unit[kMaxGroup + 1] = {0};
  int64_t pack_region = 0;
  for (size_t g = 0; g < group.size(); ++g) {
    SURGE_CHECK(group[g].w.cols == k && group[g].w.type == group[0].w.type);
    plans[g] = MakePlan(kernel, group[g].w, n_tokens, pool.num_threads());
    pack_region =
        std::max(pack_region, plans[g].pack_bytes * (plans[g].block_rows / plans[g].tile_rows));
    first_unit[g + 1] =
        first_unit[g] + (group[g].w.rows + plans[g].unit_rows - 1) / plans[g].unit_rows;
  }
  const int64_t act_bytes = plans[0].act_bytes;
  const int64_t total = act_bytes * n_tokens + pack_region * pool.num_threads() + 64;
  if (static_cast<int64_t>(scratch.bytes.size()) < total) {
    scratch.bytes.resize(static_cast<size_t>(total));
  }
  uint8_t* base = scratch.bytes.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
  const Acts acts = PrepareActivations(kernel, pool, x, x_stride, n_tokens, k, act_bytes, base);
  uint8_t* const packs = base + act_bytes * n_tokens;

  const int64_t num_units = first_unit[group.size()];
  // The rows of unit u and its matrix index.
  auto unit_rows = [&](int64_t u, size_t& g, int64_t& rb, int64_t& re) {
    while (u >= first_unit[g + 1]) ++g;  // units are taken in increasing order
    const int64_t local = u - first_unit[g];
    rb = local * plans[g].unit_rows;
    re = std::min(group[g].w.rows, rb + plans[g].unit_rows);
  };
  std::atomic<int64_t> next_unit{0};
  pool.RunDynamic([&](int thread, int) {
    uint8_t* pack_buf = packs + pack_region * thread;
    size_t g = 0;
    // Each thread claims its next unit one ahead, so that it knows which
    // weights to prefetch while computing the current one.
    int64_t u = next_unit.fetch_add(1, std::memory_order_relaxed);
    while (u < num_units) {
      const int64_t following = next_unit.fetch_add(1, std::memory_order_relaxed);
      int64_t rb, ue;
      unit_rows(u, g, rb, ue);
      const Plan& p = plans[g];
      const MatMulOut& m = group[g];
      Span ahead;
      if (p.passes > 1 && following < num_units) {
        size_t fg = g;
        int64_t frb, fre;
        unit_rows(following, fg, frb, fre);
        const int64_t row_bytes = RowBytes(group[fg].w.type, group[fg].w.cols);
        ahead = {static_cast<const uint8_t*>(group[fg].w.data) + frb * row_bytes,
                 (fre - frb) * row_bytes};
      }
      for (; rb < ue; rb += p.block_rows) {
        const int64_t re = std::min(ue, rb + p.block_rows);
        RunBlock(kernel, p, m, acts, n_tokens, rb, re, pack_buf, re == ue ? ahead : Span{});
      }
      u = following;
    }
  });
}

}  // namespace surge::engine::kernels::internal
