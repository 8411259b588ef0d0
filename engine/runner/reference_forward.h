// ReferenceForward is the oracle the batched runner is tested against: the
// transformer written as plain loops over one sequence with a contiguous KV
// history, every weight dequantized to f32 and every sum taken in double. It
// follows the runner in one respect only: K and V are rounded to fp16, as the
// paged cache stores them, so the two differ by arithmetic order, not by
// precision of the cache.
//
// Slow by design; for tests on tiny models.
// Thread safety: pure function of its inputs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/model/model.h"

namespace surge::engine::runner {

// Logits for every position of `tokens`: tokens.size() rows of n_vocab floats.
std::vector<float> ReferenceForward(const model::Model& model, std::span<const int32_t> tokens);

}  // namespace surge::engine::runner
