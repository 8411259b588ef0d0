// The MatMul driver shared by the SIMD paths: activation preparation, the
// split of weight rows across the pool, cache blocking and tile calls.
//
// Work is handed out in units of whole row tiles from an atomic counter, so a
// slow or preempted thread holds up at most the units it has claimed (its
// current one and the next); which thread computes a row never changes its
// arithmetic. Within a unit, rows are walked in blocks sized to stay in L2
// (packed first when the kernel packs), and each block loops over token
// tiles, so every weight byte is read from memory once per call while the
// token tile stays in L1. A thread claims its next unit one ahead, so its
// tiles can prefetch the rows it reads next and the weight stream overlaps
// the arithmetic: two blocks on in its own sequence of rows when the call
// streams (one pass), its whole next unit when it makes several passes.
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
constexpr int64_t kStreamAhead = 2;              // blocks a streaming call prefetches ahead

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

// Chunk k of s in pieces of `size` bytes (empty past its end).
WeightSpan Chunk(WeightSpan s, int64_t k, int64_t size) {
  const int64_t begin = std::min(s.bytes, k * size);
  return {s.data + begin, std::min(s.bytes, begin + size) - begin};
}

// Slice i of n equal, cache-line aligned slices of s.
WeightSpan SliceOf(WeightSpan s, int64_t i, int64_t n) {
  return Chunk(s, i, RoundUp((s.bytes + n - 1) / n, 64));
}

// The bytes of rows [rb, re) of w.
WeightSpan Rows(const Matrix& w, int64_t rb, int64_t re) {
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  return {static_cast<const uint8_t*>(w.data) + rb * row_bytes, (re - rb) * row_bytes};
}

// What block i of the unit [ru, ue) of w prefetches while it computes; `next`
// is the thread's following unit. A streaming call (one pass) fetches the
// block kStreamAhead blocks on in the thread's own sequence of rows, running
// on into `next` at the end of the unit. A multi-pass call spends long enough
// on a block to fetch a whole unit under it: block i takes slice i of `next`.
WeightSpan Ahead(const Plan& p, const Matrix& w, int64_t ru, int64_t ue, int64_t i,
                 WeightSpan next) {
  const int64_t n_blocks = (ue - ru + p.block_rows - 1) / p.block_rows;
  if (p.passes > 1) return SliceOf(next, i, n_blocks);
  const int64_t target = i + kStreamAhead;
  const int64_t rb = ru + target * p.block_rows;
  if (rb < ue) return Rows(w, rb, std::min(ue, rb + p.block_rows));
  return Chunk(next, target - n_blocks, p.block_rows * RowBytes(w.type, w.cols));
}

// Rows [rb, re) of one L2 block of one matrix: pack, then every token tile
// over it. The tiles also pull `ahead` (the weights this thread reads next)
// toward L2, a slice each, so that the memory stream overlaps the arithmetic
// instead of stalling the next pack or tile.
void RunBlock(const MatMulKernel& kernel, const Plan& p, const MatMulOut& m, const Acts& acts,
              int64_t n_tokens, int64_t rb, int64_t re, uint8_t* pack_buf, WeightSpan ahead) {
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
  int64_t tile_index = 0;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += p.tile_tokens) {
    args.x = acts.data + t0 * acts.stride;
    args.n_tokens = static_cast<int>(std::min<int64_t>(p.tile_tokens, n_tokens - t0));
    for (int64_t r = rb, i = 0; r < re; r += p.tile_rows, ++i) {
      args.w = p.pack ? pack_buf + i * p.pack_bytes : wd + r * row_bytes;
      args.n_rows = static_cast<int>(std::min<int64_t>(p.tile_rows, re - r));
      args.out = m.out + t0 * m.out_stride + r;
      args.ahead = SliceOf(ahead, tile_index++, tiles);
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
    // Each thread claims its next unit one ahead, so that its tiles know
    // which weights it reads next and can prefetch them (see Ahead).
    int64_t u = next_unit.fetch_add(1, std::memory_order_relaxed);
    while (u < num_units) {
      const int64_t following = next_unit.fetch_add(1, std::memory_order_relaxed);
      int64_t rb, ue;
      unit_rows(u, g, rb, ue);
      const Plan& p = plans[g];
      const MatMulOut& m = group[g];
      WeightSpan next;
      if (following < num_units) {
        size_t fg = g;
        int64_t frb, fre;
        unit_rows(following, fg, frb, fre);
        next = Rows(group[fg].w, frb, fre);
      }
      for (int64_t bb = rb, i = 0; bb < ue; bb += p.block_rows, ++i) {
        RunBlock(kernel, p, m, acts, n_tokens, bb, std::min(ue, bb + p.block_rows), pack_buf,
                 Ahead(p, m.w, rb, ue, i, next));
      }
      u = following;
    }
  });
}

}  // namespace surge::engine::kernels::internal
