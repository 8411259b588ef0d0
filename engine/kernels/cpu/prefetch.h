// Internal: software prefetch shared by the SIMD tiles (include only from
// cpu/*.cc; _mm_prefetch is baseline SSE, so any path may use it).
//
// Thread safety: pure.
#pragma once

#include <xmmintrin.h>

#include <algorithm>
#include <cstdint>

#include "engine/kernels/kernel_table.h"

namespace surge::engine::kernels::internal {

// Pulls a tile's TileArgs::ahead toward L2 over its `steps` loop
// iterations, a few cache lines per call, so the memory stream for this
// thread's next block runs under the arithmetic of the current one.
//
// Keep operator() this simple: GCC 12 may delete a loop whose only work is
// _mm_prefetch (it has no effect the compiler must keep), and a variant
// with a second span lost its loop that way in every tile, halving decode
// speed. After changing it, check the tiles still contain prefetcht1
// (objdump -d on cpu/*_matmul*.o).
class AheadPrefetch {
 public:
  AheadPrefetch(const TileArgs& a, int64_t steps)
      : p_(reinterpret_cast<const char*>(a.ahead.data)),
        lines_((a.ahead.bytes + 63) / 64),
        per_step_(steps > 0 ? (lines_ + steps - 1) / steps : 0) {}

  void operator()(int64_t step) const {
    const int64_t end = std::min(lines_, (step + 1) * per_step_);
    for (int64_t l = step * per_step_; l < end; ++l) _mm_prefetch(p_ + l * 64, _MM_HINT_T1);
  }

 private:
  const char* p_;
  int64_t lines_;
  int64_t per_step_;
};

}  // namespace surge::engine::kernels::internal
