// Internal: Rope shared by the SIMD paths (compiled for baseline x86-64), and
// the angle table behind kernels::RopeAngles(). The angles are cos/sin of the
// head_dim / 2 frequencies, computed in double exactly as the reference does
// per element; rotating every head with them gives the reference's results
// bit for bit.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>

#include "engine/kernels/ops.h"

namespace surge::engine::kernels::internal {

constexpr int kRopeMaxHeadDim = 1024;

void RopeAngles(int head_dim, int64_t pos, float freq_base, float* cos_sin);
void RopeRotate(float* x, int n_heads, int head_dim, const float* cos_sin, RopeStyle style);
// RopeAngles() then RopeRotate().
void RopeTable(float* x, int n_heads, int head_dim, int64_t pos, float freq_base, RopeStyle style);

}  // namespace surge::engine::kernels::internal
