// The compute kernels the runner calls. Each has a scalar reference
// (engine/kernels/reference/) and SIMD paths (engine/kernels/cpu/: AVX-512
// with VNNI, AVX2) chosen once at run time from the CPU's features.
//
// Batch invariance (a DESIGN invariant): every output element is produced by
// the same sequence of floating-point operations whatever the number of
// tokens in the call, the token's row within it, and the pool's thread count.
// Work is split only across output elements, never across a reduction.
//
// Thread safety: functions are reentrant; MatMul uses the given pool.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/kernels/dtype.h"

namespace surge::engine::kernels {

class ThreadPool;

// A weight matrix of `rows` rows by `cols` columns stored row-major, each row
// RowBytes(type, cols) bytes. Quantized types need cols % 32 == 0.
struct Matrix {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Reusable scratch memory for MatMul (quantized activations, packed panels,
// partial products). Owned by the caller, grown on demand, never shrunk. Not
// shareable between concurrent calls.
struct MatMulScratch {
  std::vector<uint8_t> bytes;
  std::vector<float> floats;  // MatMulSwiGlu's up products where it does not fuse
};

// out[t * out_stride + r] = sum_k W[r, k] * x[t * x_stride + k]
// for t in [0, n_tokens), r in [0, w.rows). For Q8_0 / Q4_0 weights the
// activations are first quantized to Q8_0 per token (deterministically per
// token) and the dot products run on integers.
void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t x_stride, int64_t n_tokens,
            float* out, int64_t out_stride, MatMulScratch& scratch);

// One matrix of a MatMulGroup() and where its output goes.
struct MatMulOut {
  Matrix w;
  float* out = nullptr;
  int64_t out_stride = 0;
};

// MatMul() of several matrices over the same activations (Q, K and V; gate
// and up) as one job on the pool: the activations are prepared once and the
// members share one work queue, so a decode step pays one wake-up and one
// join instead of one per matrix. Every output element is bitwise what
// MatMul() of its matrix alone gives. All matrices must have the same
// number of columns; matrices of different types are fine (they run as
// separate groups by type).
void MatMulGroup(ThreadPool& pool, std::span<const MatMulOut> group, const float* x,
                 int64_t x_stride, int64_t n_tokens, MatMulScratch& scratch);

// out[t * out_stride + r] = silu(g) * u with g, u what MatMul() of `gate` and
// of `up` give for row r and token t, bitwise (SiluMul() of the two): the
// first half of a SwiGLU feed-forward as one pool job. The thread that
// computes a run of rows of both matrices applies the activation to it, so
// the two products never leave that thread's cache. gate and up must have
// the same shape.
void MatMulSwiGlu(ThreadPool& pool, const Matrix& gate, const Matrix& up, const float* x,
                  int64_t x_stride, int64_t n_tokens, float* out, int64_t out_stride,
                  MatMulScratch& scratch);

// out = x / sqrt(mean(x^2) + eps) * weight, n elements. out may alias x.
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out);

enum class RopeStyle {
  kNormal,  // rotate pairs (2i, 2i+1): GGUF llama
  kNeox,    // rotate pairs (i, i + d/2): qwen2, qwen3
};

// Rotates `n_heads` consecutive heads of `head_dim` floats in place for
// position `pos`: theta_i = pos * freq_base^(-2i / head_dim).
void Rope(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style);

// The angles Rope() uses for position `pos`, head_dim floats:
// cos_sin[i] = cos(theta_i), cos_sin[head_dim / 2 + i] = sin(theta_i). A
// forward pass computes them once per token and rotates every layer's Q and
// K with them (the sines and cosines, in double, cost more than the
// rotations they feed).
void RopeAngles(int head_dim, int64_t pos, float freq_base, float* cos_sin);

// Rope() with angles from RopeAngles(): bitwise the same result.
void Rope(float* x, int n_heads, int head_dim, const float* cos_sin, RopeStyle style);

// out[i] = silu(gate[i]) * up[i]. out may alias gate.
void SiluMul(const float* gate, const float* up, int64_t n, float* out);

// y[i] += x[i].
void Add(float* y, const float* x, int64_t n);

// out[i] = x[i] as IEEE fp16 bits, rounded to nearest even: FloatToHalf()
// element by element (the SIMD paths use the hardware conversion, which
// rounds and quiets NaNs the same way). For K/V rows written to the cache.
void ToHalf(const float* x, int64_t n, uint16_t* out);

// One attention head of one query over a paged K/V history. The cache of one
// layer is laid out [block][kv_head][slot] rows, a row being one position's
// head_dim values in `type`: fp16 (kF16), or Q8_0 blocks (kQ8_0: 32 values
// per 34-byte block, head_dim % 32 == 0). The history is positions
// 0..n_ctx-1, position p living in block block_table[p / block_size], slot
// p % block_size. A row is RowBytes(type, head_dim) bytes.
struct PagedKv {
  const void* k = nullptr;  // layer base
  const void* v = nullptr;
  const int32_t* block_table = nullptr;
  int block_size = 16;
  int n_kv_heads = 1;
  int head_dim = 64;
  DType type = DType::kF16;
};

// out[head_dim] = sum_p softmax_p(scale * q . K[p]) V[p] over p < n_ctx, for
// KV head `kv_head`. `scores` is caller scratch of at least n_ctx floats.
void AttendPaged(const float* q, const PagedKv& kv, int kv_head, int64_t n_ctx, float scale,
                 float* scores, float* out);

// One query of AttendPagedGroup(): its history length, its scores scratch (at
// least n_ctx floats) and its output (head_dim floats).
struct AttendQuery {
  const float* q = nullptr;
  int64_t n_ctx = 0;
  float* scores = nullptr;
  float* out = nullptr;
};

// AttendPaged() for several queries over one sequence's cache and one KV head
// (the tokens of a prefill chunk, the heads of a GQA group), each with its
// own history length. Each query's result is bit for bit what AttendPaged()
// gives it alone; the group reads and widens each K/V row once for all of
// them instead of once per query. `scratch` is caller scratch of at least
// AttendGroupScratchFloats(kv) floats, one per thread; each output is
// written once, at the end, so concurrent calls may write neighbouring
// outputs.
void AttendPagedGroup(std::span<const AttendQuery> queries, const PagedKv& kv, int kv_head,
                      float scale, float* scratch);

// Queries AttendPagedGroup() shares one pass over the cache among (it takes
// more in several passes).
inline constexpr int kMaxAttendGroup = 16;

// One cache block's rows and kMaxAttendGroup accumulators, widened to f32,
// plus room to align them to a cache line.
inline int64_t AttendGroupScratchFloats(const PagedKv& kv) {
  return (static_cast<int64_t>(kv.block_size) + kMaxAttendGroup) * kv.head_dim + 16;
}

}  // namespace surge::engine::kernels
