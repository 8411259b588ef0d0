// Internal: Rope shared by the SIMD paths (compiled for baseline x86-64). It
// computes cos/sin once per call for the head_dim / 2 frequencies, in double,
// exactly as the reference does per element, then rotates every head; the
// results equal the reference's bit for bit.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>

#include "engine/kernels/ops.h"

namespace surge::engine::kernels::internal {

void RopeTable(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style);

}  // namespace surge::engine::kernels::internal
