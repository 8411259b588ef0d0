// Internal: the function table each instruction-set path fills in, and the
// tile interface the shared MatMul driver (matmul_driver.cc) calls.
//
// MatMul is split in three parts so that all paths share one threading and
// blocking scheme: the driver quantizes activations per token (`prep`),
// optionally repacks panels of `tile_rows` weight rows (`pack`), and calls
// `tile` on rectangles of at most tile_rows rows x tile_tokens tokens. A tile
// kernel must compute every output element with the same operations whatever
// the rectangle's shape (the batch-invariance contract of ops.h).
//
// Thread safety: tables are immutable after construction.
#pragma once

#include <cstdint>
#include <span>

#include "engine/kernels/dispatch.h"
#include "engine/kernels/ops.h"

namespace surge::engine::kernels::internal {

// A run of weight bytes.
struct WeightSpan {
  const uint8_t* data = nullptr;
  int64_t bytes = 0;
};

struct TileArgs {
  const uint8_t* w;        // first row of the tile, or its packed panel
  int64_t w_stride;        // bytes between rows (unpacked)
  int n_rows;              // 1..tile_rows
  const uint8_t* x;        // first token: f32 row or prepared activations
  int64_t x_stride;        // bytes between tokens (prepared: between their first chunks)
  int64_t x_chunk_stride;  // prepared: bytes between one token's chunks
  int n_tokens;            // 1..tile_tokens
  int64_t cols;            // K
  float* out;              // &out[t0 * out_stride + r0]
  int64_t out_stride;      // floats between tokens
  // Weight bytes this thread reads after this tile, to pull toward L2 while
  // the tile computes, spread over its steps; tiles may ignore it.
  WeightSpan ahead;
};

struct MatMulKernel {
  int tile_rows;
  int tile_tokens;
  // Prepared activations; prep_bytes == nullptr means raw f32 rows. A
  // token's prepared form is one chunk of prep_bytes(prep_chunk_cols) bytes
  // per prep_chunk_cols columns (0: a single chunk for the whole row), which
  // prep writes `chunk_stride` bytes apart. The driver interleaves the tokens
  // of a tile chunk by chunk: token t's chunk j sits at
  // x + j * x_chunk_stride + t * x_stride, with x_stride the chunk size, so a
  // tile reaches chunk j of all its tokens from one pointer at offsets fixed
  // at compile time (no register per token, no indexed addressing).
  int64_t (*prep_bytes)(int64_t cols) = nullptr;
  int prep_chunk_cols = 0;
  void (*prep)(const float* x, int64_t cols, uint8_t* out, int64_t chunk_stride) = nullptr;
  // Packed weight panels of tile_rows rows; pack_bytes == nullptr: no packing.
  int64_t (*pack_bytes)(int64_t cols) = nullptr;
  void (*pack)(const uint8_t* w, int64_t w_stride, int n_rows, int64_t cols,
               uint8_t* out) = nullptr;
  void (*tile)(const TileArgs& args) = nullptr;
  // For calls of at most direct_max_tokens tokens, a packing kernel may offer
  // a tile that reads the rows directly (same arithmetic, no pack pass).
  int direct_max_tokens = 0;
  void (*direct_tile)(const TileArgs& args) = nullptr;
};

// Runs the MatMuls of `group` (same type and columns) with `kernel` as one
// job on the pool (shared by the SIMD paths).
void MatMulTiled(const MatMulKernel& kernel, ThreadPool& pool, std::span<const MatMulOut> group,
                 const float* x, int64_t x_stride, int64_t n_tokens, MatMulScratch& scratch);

// MatMulSwiGlu() (ops.h) with `kernel`: work units are rows of gate and up
// together, and the thread that computes a unit applies silu_mul to it.
void MatMulTiledSwiGlu(const MatMulKernel& kernel, ThreadPool& pool, const Matrix& gate,
                       const Matrix& up, const float* x, int64_t x_stride, int64_t n_tokens,
                       float* out, int64_t out_stride,
                       void (*silu_mul)(const float*, const float*, int64_t, float*),
                       MatMulScratch& scratch);

struct OpsTable {
  Isa isa;
  // The tile kernel for a weight type, run by MatMulTiled(); nullptr for the
  // reference path, which has its own plain MatMul.
  const MatMulKernel* (*matmul_kernel)(DType type);
  void (*reference_matmul)(ThreadPool& pool, const Matrix& w, const float* x, int64_t x_stride,
                           int64_t n_tokens, float* out, int64_t out_stride,
                           MatMulScratch& scratch);
  void (*rms_norm)(const float* x, const float* weight, int64_t n, float eps, float* out);
  void (*rope)(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style);
  void (*silu_mul)(const float* gate, const float* up, int64_t n, float* out);
  void (*add)(float* y, const float* x, int64_t n);
  void (*to_half)(const float* x, int64_t n, uint16_t* out);
  void (*attend)(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                 float* scores, float* out);
  // AttendPagedGroup() for at most kMaxAttendGroup queries; nullptr: the
  // queries go through `attend` one by one.
  void (*attend_group)(std::span<const AttendQuery> queries, const PagedKv& kv, int kv_head,
                       float scale, float* scratch) = nullptr;
};

const OpsTable& ReferenceOps();
const OpsTable& Avx2Ops();    // only valid where IsaSupported(kAvx2)
const OpsTable& Avx512Ops();  // only valid where IsaSupported(kAvx512)
const OpsTable& ActiveOps();

}  // namespace surge::engine::kernels::internal
