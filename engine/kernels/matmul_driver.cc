// The MatMul driver shared by the SIMD paths: activation preparation, the
// split of weight rows across the pool, cache blocking and tile calls.
//
// Work is handed out in units of whole row tiles from a WorkQueue (each
// thread's own run of units first, then steals), so a slow or preempted
// thread holds up at most the units it has claimed (its current one and
// the next); which thread computes a row never changes its arithmetic.
// Within a unit, rows are walked in blocks sized to stay in L2 (packed
// first when the kernel packs), and each block loops over token tiles, so
// every weight byte is read from memory once per call while the token tile
// stays in L1. A thread claims its next unit one ahead, so its tiles can
// prefetch the rows it reads next and the weight stream overlaps the
// arithmetic: the next block in its own sequence of rows when the call
// streams (one pass), the same block of its next unit when it makes several.
#include <algorithm>
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
constexpr int64_t kStreamAhead = 1;  // blocks a streaming call prefetches ahead (1 beat 2, 3)

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
  int64_t pack_bytes;  // per packed tile
};

Plan MakePlan(const MatMulKernel& kernel, const Matrix& w, int64_t n_tokens, int num_threads) {
  Plan p;
  p.direct = kernel.direct_tile != nullptr && n_tokens <= kernel.direct_max_tokens;
  p.pack = kernel.pack != nullptr && !p.direct;
  p.tile_rows = kernel.tile_rows;
  p.tile_tokens = p.direct ? kernel.direct_max_tokens : kernel.tile_tokens;
  p.passes = (n_tokens + p.tile_tokens - 1) / p.tile_tokens;
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

// Activations in the form the kernel reads: the caller's f32 rows, or
// prepared once per token into groups of `group_tokens` tokens (one group per
// token tile) interleaved chunk by chunk (see MatMulKernel::prep).
struct Acts {
  const uint8_t* data = nullptr;
  int64_t group_tokens = 1;
  int64_t group_bytes = 0;   // between groups
  int64_t token_bytes = 0;   // between a group's tokens (f32: between rows)
  int64_t chunk_stride = 0;  // between one token's chunks
  int64_t n_groups = 0;      // prepared only

  int64_t offset(int64_t t) const {
    return t / group_tokens * group_bytes + t % group_tokens * token_bytes;
  }
  const uint8_t* token(int64_t t) const { return data + offset(t); }
  int64_t prepared_bytes() const { return n_groups * group_bytes; }
};

// Where `n_tokens` tokens of k columns go when prepared for tiles of
// `tile_tokens` (data not yet set); raw f32 rows when the kernel prepares none.
Acts ActLayout(const MatMulKernel& kernel, const float* x, int64_t x_stride, int64_t k,
               int64_t n_tokens, int tile_tokens) {
  Acts a;
  if (kernel.prep == nullptr) {
    a.data = reinterpret_cast<const uint8_t*>(x);
    a.group_tokens = std::max<int64_t>(1, n_tokens);
    a.token_bytes = x_stride * static_cast<int64_t>(sizeof(float));
    return a;
  }
  const int64_t chunk_cols = kernel.prep_chunk_cols > 0 ? kernel.prep_chunk_cols : k;
  a.group_tokens = std::max<int64_t>(1, std::min<int64_t>(n_tokens, tile_tokens));
  a.token_bytes = kernel.prep_bytes(chunk_cols);
  a.chunk_stride = a.group_tokens * a.token_bytes;
  a.group_bytes = RoundUp(k / chunk_cols * a.chunk_stride, 64);
  a.n_groups = (n_tokens + a.group_tokens - 1) / a.group_tokens;
  return a;
}

// Prepares every token into `acts` at `base`.
void PrepareActivations(const MatMulKernel& kernel, ThreadPool& pool, const float* x,
                        int64_t x_stride, int64_t n_tokens, int64_t k, Acts& acts, uint8_t* base) {
  if (!kernel.prep) return;
  acts.data = base;
  auto prep = [&](int64_t t) {
    kernel.prep(x + t * x_stride, k, base + acts.offset(t), acts.chunk_stride);
  };
  if (n_tokens >= kPrepParallelTokens) {
    WorkQueue queue(n_tokens, pool.num_threads());
    pool.RunDynamic([&](int thread, int) {
      for (int64_t t; (t = queue.Next(thread)) >= 0;) prep(t);
    });
  } else {
    for (int64_t t = 0; t < n_tokens; ++t) prep(t);
  }
}

// Slice i of n equal, cache-line aligned slices of s (empty past its end).
WeightSpan SliceOf(WeightSpan s, int64_t i, int64_t n) {
  const int64_t size = RoundUp((s.bytes + n - 1) / n, 64);
  const int64_t begin = std::min(s.bytes, i * size);
  return {s.data + begin, std::min(s.bytes, begin + size) - begin};
}

// Rows [rb, re) of one L2 block of one matrix: pack, then every token tile
// over it, row r of token t landing at out[t * out_stride + r - rb]. The
// tiles also pull `ahead` (the weights this thread reads next) toward L2, a
// slice each, so that the memory stream overlaps the arithmetic instead of
// stalling the next pack or tile.
void RunBlock(const MatMulKernel& kernel, const Plan& p, const Matrix& w, const Acts& acts,
              int64_t n_tokens, int64_t rb, int64_t re, uint8_t* pack_buf, WeightSpan ahead,
              float* out, int64_t out_stride) {
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  const uint8_t* const wd = static_cast<const uint8_t*>(w.data);
  auto* const tile = p.direct ? kernel.direct_tile : kernel.tile;
  if (p.pack) {
    for (int64_t r = rb, i = 0; r < re; r += p.tile_rows, ++i) {
      kernel.pack(wd + r * row_bytes, row_bytes,
                  static_cast<int>(std::min<int64_t>(p.tile_rows, re - r)), w.cols,
                  pack_buf + i * p.pack_bytes);
    }
  }
  TileArgs args;
  args.w_stride = row_bytes;
  args.x_stride = acts.token_bytes;
  args.x_chunk_stride = acts.chunk_stride;
  args.cols = w.cols;
  args.out_stride = out_stride;
  const int64_t tiles = p.passes * ((re - rb + p.tile_rows - 1) / p.tile_rows);
  int64_t tile_index = 0;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += p.tile_tokens) {
    args.x = acts.token(t0);
    args.n_tokens = static_cast<int>(std::min<int64_t>(p.tile_tokens, n_tokens - t0));
    for (int64_t r = rb, i = 0; r < re; r += p.tile_rows, ++i) {
      args.w = p.pack ? pack_buf + i * p.pack_bytes : wd + r * row_bytes;
      args.n_rows = static_cast<int>(std::min<int64_t>(p.tile_rows, re - r));
      args.out = out + t0 * out_stride + (r - rb);
      args.ahead = SliceOf(ahead, tile_index++, tiles);
      tile(args);
    }
  }
}

// One MatMulTiled call: its matrices, their plans, and how work units map
// onto them. A group runs each matrix's units in turn, so threads move from
// one matrix to the next without a join; a SwiGLU pair runs units of rows
// [rb, re) of both gate and up, so one thread holds both products of a row.
class Job {
 public:
  Job(const MatMulKernel& kernel, std::span<const MatMulOut> mats, bool pair, int64_t n_tokens,
      int num_threads)
      : mats_(mats), pair_(pair) {
    SURGE_CHECK(!mats.empty() && mats.size() <= kMaxMats);
    SURGE_CHECK(!pair || (mats.size() == 2 && mats[0].w.rows == mats[1].w.rows));
    for (size_t g = 0; g < mats.size(); ++g) {
      SURGE_CHECK(mats[g].w.cols == mats[0].w.cols && mats[g].w.type == mats[0].w.type);
      plans_[g] = MakePlan(kernel, mats[g].w, n_tokens, num_threads);
      first_unit_[g + 1] = first_unit_[g] + (pair ? 0 : UnitsOf(g));
    }
    num_units_ = pair ? UnitsOf(0) : first_unit_[mats.size()];
  }

  int64_t num_units() const { return num_units_; }
  const Plan& plan(size_t g) const { return plans_[g]; }
  const MatMulOut& mat(size_t g) const { return mats_[g]; }
  size_t size() const { return mats_.size(); }

  // Unit u: rows [rb, re) of matrices [g, g + count).
  struct Unit {
    size_t g = 0;
    size_t count = 0;
    int64_t rb = 0, re = 0;
    int64_t blocks_per_mat = 0;
    int64_t blocks() const { return blocks_per_mat * static_cast<int64_t>(count); }
  };
  Unit unit(int64_t u) const {
    Unit r;
    if (pair_) {
      r.count = 2;
    } else {
      while (u >= first_unit_[r.g + 1]) ++r.g;
      r.count = 1;
      u -= first_unit_[r.g];
    }
    const Plan& p = plans_[r.g];
    r.rb = u * p.unit_rows;
    r.re = std::min(mats_[r.g].w.rows, r.rb + p.unit_rows);
    r.blocks_per_mat = (r.re - r.rb + p.block_rows - 1) / p.block_rows;
    return r;
  }

  // Block i of unit `un`: its matrix index and rows.
  void block(const Unit& un, int64_t i, size_t& g, int64_t& rb, int64_t& re) const {
    g = un.g + static_cast<size_t>(i / un.blocks_per_mat);
    rb = un.rb + i % un.blocks_per_mat * plans_[g].block_rows;
    re = std::min(un.re, rb + plans_[g].block_rows);
  }

  // What block i of unit `cur` prefetches while it computes: the block
  // kStreamAhead on in the thread's own sequence (this unit's blocks, then
  // those of `next`, the unit it claimed ahead) when the call streams, the
  // same block of `next` when it makes several passes (a block then takes
  // long enough to fetch one of its size under it).
  WeightSpan Ahead(const Unit& cur, const Unit* next, int64_t i) const {
    const Plan& p = plans_[cur.g];
    int64_t target = i + (p.passes > 1 ? cur.blocks() : kStreamAhead);
    const Unit* un = &cur;
    if (target >= cur.blocks()) {
      if (next == nullptr) return {};
      target -= cur.blocks();
      un = next;
    }
    if (target >= un->blocks()) return {};
    size_t g;
    int64_t rb, re;
    block(*un, target, g, rb, re);
    const Matrix& w = mats_[g].w;
    const int64_t row_bytes = RowBytes(w.type, w.cols);
    return {static_cast<const uint8_t*>(w.data) + rb * row_bytes, (re - rb) * row_bytes};
  }

 private:
  static constexpr size_t kMaxMats = 8;
  int64_t UnitsOf(size_t g) const {
    return (mats_[g].w.rows + plans_[g].unit_rows - 1) / plans_[g].unit_rows;
  }

  std::span<const MatMulOut> mats_;
  bool pair_;
  Plan plans_[kMaxMats];
  int64_t first_unit_[kMaxMats + 1] = {0};
  int64_t num_units_ = 0;
};

// Runs `job` on the pool. With `silu_mul`, the job is a SwiGLU pair: each
// unit's gate and up products go to the thread's scratch and silu_mul()
// writes the unit's rows of `out` from them.
void RunJob(const MatMulKernel& kernel, ThreadPool& pool, const Job& job, const float* x,
            int64_t x_stride, int64_t n_tokens, MatMulScratch& scratch,
            void (*silu_mul)(const float*, const float*, int64_t, float*) = nullptr,
            float* out = nullptr, int64_t out_stride = 0) {
  const int64_t k = job.mat(0).w.cols;
  int64_t pack_region = 0;
  for (size_t g = 0; g < job.size(); ++g) {
    const Plan& p = job.plan(g);
    pack_region = std::max(pack_region, p.pack_bytes * (p.block_rows / p.tile_rows));
  }
  // A pair's products of one unit, per thread: gate then up, unit_rows apart.
  const int64_t pair_rows = silu_mul ? job.plan(0).unit_rows : 0;
  const int64_t pair_region = RoundUp(2 * n_tokens * pair_rows * 4, 64);
  Acts acts = ActLayout(kernel, x, x_stride, k, n_tokens, job.plan(0).tile_tokens);
  const int64_t total =
      acts.prepared_bytes() + (pack_region + pair_region) * pool.num_threads() + 64;
  if (static_cast<int64_t>(scratch.bytes.size()) < total) {
    scratch.bytes.resize(static_cast<size_t>(total));
  }
  uint8_t* base = scratch.bytes.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
  PrepareActivations(kernel, pool, x, x_stride, n_tokens, k, acts, base);
  uint8_t* const per_thread = base + acts.prepared_bytes();

  WorkQueue queue(job.num_units(), pool.num_threads());
  pool.RunDynamic([&](int thread, int) {
    uint8_t* const pack_buf = per_thread + (pack_region + pair_region) * thread;
    float* const products = reinterpret_cast<float*>(pack_buf + pack_region);
    // Each thread claims its next unit one ahead, so that its tiles know
    // which weights it reads next and can prefetch them (see Job::Ahead).
    int64_t u = queue.Next(thread);
    while (u >= 0) {
      const int64_t following = queue.Next(thread);
      const Job::Unit cur = job.unit(u);
      Job::Unit next;
      if (following >= 0) next = job.unit(following);
      const Job::Unit* next_ptr = following >= 0 ? &next : nullptr;
      for (int64_t i = 0; i < cur.blocks(); ++i) {
        size_t g;
        int64_t rb, re;
        job.block(cur, i, g, rb, re);
        const MatMulOut& m = job.mat(g);
        float* const dst =
            silu_mul ? products + (g - cur.g) * n_tokens * pair_rows + (rb - cur.rb) : m.out + rb;
        RunBlock(kernel, job.plan(g), m.w, acts, n_tokens, rb, re, pack_buf,
                 job.Ahead(cur, next_ptr, i), dst, silu_mul ? pair_rows : m.out_stride);
      }
      if (silu_mul) {
        const float* gate = products;
        const float* up = products + n_tokens * pair_rows;
        for (int64_t t = 0; t < n_tokens; ++t) {
          silu_mul(gate + t * pair_rows, up + t * pair_rows, cur.re - cur.rb,
                   out + t * out_stride + cur.rb);
        }
      }
      u = following;
    }
  });
}

}  // namespace

void MatMulTiled(const MatMulKernel& kernel, ThreadPool& pool, std::span<const MatMulOut> group,
                 const float* x, int64_t x_stride, int64_t n_tokens, MatMulScratch& scratch) {
  const Job job(kernel, group, /*pair=*/false, n_tokens, pool.num_threads());
  RunJob(kernel, pool, job, x, x_stride, n_tokens, scratch);
}

void MatMulTiledSwiGlu(const MatMulKernel& kernel, ThreadPool& pool, const Matrix& gate,
                       const Matrix& up, const float* x, int64_t x_stride, int64_t n_tokens,
                       float* out, int64_t out_stride,
                       void (*silu_mul)(const float*, const float*, int64_t, float*),
                       MatMulScratch& scratch) {
  const MatMulOut mats[2] = {{gate, nullptr, 0}, {up, nullptr, 0}};
  const Job job(kernel, mats, /*pair=*/true, n_tokens, pool.num_threads());
  RunJob(kernel, pool, job, x, x_stride, n_tokens, scratch, silu_mul, out, out_stride);
}

}  // namespace surge::engine::kernels::internal
