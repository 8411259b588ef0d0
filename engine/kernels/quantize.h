// Conversions between f32 and the storage types: used to write and quantize
// models, to look up embedding rows, and by tests.
//
// Rounding is deterministic and follows GGUF's reference behaviour: f16 and
// bf16 round to nearest even; Q8_0 uses d = max|x| / 127 and rounds to
// nearest; Q4_0 uses d = (signed value of max magnitude) / -8, q = round(x/d + 8.5)
// clamped to 15, as other GGUF tools do, so files agree bit for bit.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "engine/kernels/dtype.h"

namespace surge::engine::kernels {

uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t h);

// Writes RowBytes(type, n) bytes of `n` elements (n % block size == 0).
void QuantizeRow(DType type, const float* x, int64_t n, void* out);
// Reads `n` elements of `type` into f32.
void DequantizeRow(DType type, const void* x, int64_t n, float* out);

}  // namespace surge::engine::kernels
