// Scalar MatMul: one plain dot product per output element.
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "engine/kernels/quantize.h"
#include "engine/kernels/reference/ops_ref.h"
#include "engine/kernels/thread_pool.h"

namespace surge::engine::kernels::reference {
namespace {

// One quantized activation block.
struct ActBlock {
  float d;
  int8_t q[kQK];
};

float LoadFloat(const uint8_t* p, DType type, int64_t i) {
  uint16_t h;
  switch (type) {
    case DType::kF32: {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      return f;
    }
    case DType::kF16:
      std::memcpy(&h, p + 2 * i, 2);
      return HalfToFloat(h);
    default:
      std::memcpy(&h, p + 2 * i, 2);
      return Bf16ToFloat(h);
  }
}

// sum_k w[k] * x[k], sequential in k.
float DotFloat(const uint8_t* w, DType type, const float* x, int64_t k) {
  float acc = 0.0f;
  for (int64_t i = 0; i < k; ++i) acc = std::fmaf(LoadFloat(w, type, i), x[i], acc);
  return acc;
}

// Weight block b as 32 signed integers and its scale.
float LoadQuantBlock(const uint8_t* w, DType type, int64_t b, int32_t q[kQK]) {
  if (type == DType::kQ8_0) {
    BlockQ8_0 blk;
    std::memcpy(&blk, w + b * sizeof(BlockQ8_0), sizeof(blk));
    for (int j = 0; j < kQK; ++j) q[j] = blk.qs[j];
    return HalfToFloat(blk.d);
  }
  BlockQ4_0 blk;
  std::memcpy(&blk, w + b * sizeof(BlockQ4_0), sizeof(blk));
  for (int j = 0; j < kQK / 2; ++j) {
    q[j] = (blk.qs[j] & 0x0f) - 8;
    q[j + kQK / 2] = (blk.qs[j] >> 4) - 8;
  }
  return HalfToFloat(blk.d);
}

float DotQuant(const uint8_t* w, DType type, const ActBlock* x, int64_t num_blocks) {
  float acc = 0.0f;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int32_t q[kQK];
    const float dw = LoadQuantBlock(w, type, b, q);
    int32_t isum = 0;
    for (int j = 0; j < kQK; ++j) isum += q[j] * x[b].q[j];
    acc = std::fmaf(static_cast<float>(isum), dw * x[b].d, acc);
  }
  return acc;
}

}  // namespace

void QuantizeActivationBlock(const float* x, float* d, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float dd = amax / 127.0f;
  const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
  for (int j = 0; j < kQK; ++j) q[j] = static_cast<int8_t>(std::lrint(x[j] * id));
  *d = dd;
}

void MatMul(ThreadPool& pool, const Matrix& w, const float* x, int64_t x_stride, int64_t n_tokens,
            float* out, int64_t out_stride, MatMulScratch& scratch) {
  const bool quantized = w.type == DType::kQ8_0 || w.type == DType::kQ4_0;
  const int64_t k = w.cols;
  const int64_t row_bytes = RowBytes(w.type, k);
  const uint8_t* wd = static_cast<const uint8_t*>(w.data);
  const ActBlock* acts = nullptr;
  if (quantized) {
    SURGE_CHECK(k % kQK == 0);
    const int64_t nb = k / kQK;
    scratch.bytes.resize(static_cast<size_t>(n_tokens * nb) * sizeof(ActBlock));
    ActBlock* a = reinterpret_cast<ActBlock*>(scratch.bytes.data());
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t b = 0; b < nb; ++b) {
        QuantizeActivationBlock(x + t * x_stride + b * kQK, &a[t * nb + b].d, a[t * nb + b].q);
      }
    }
    acts = a;
  }
  pool.ParallelFor(w.rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t t = 0; t < n_tokens; ++t) {
        out[t * out_stride + r] =
            quantized ? DotQuant(wd + r * row_bytes, w.type, acts + t * (k / kQK), k / kQK)
                      : DotFloat(wd + r * row_bytes, w.type, x + t * x_stride, k);
      }
    }
  });
}

}  // namespace surge::engine::kernels::reference
