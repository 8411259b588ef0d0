// The mixed-load figure of `surge run --bench`: N concurrent requests of
// random prompt and output lengths submitted at once through the Engine
// (scheduler, continuous batching, sampling, streaming), measuring aggregate
// generated tokens/s and time to first token. It is the engine-side ceiling
// the HTTP server's throughput is compared against.
//
// Thread safety: runs on the calling thread plus the engine's loop.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"

namespace surge::engine {

struct MixedLoadOptions {
  int num_requests = 64;  // all submitted at once
  int32_t min_prompt = 16, max_prompt = 256;
  int32_t min_output = 16, max_output = 128;
  uint64_t seed = 1;
};

struct MixedLoadResult {
  int num_requests = 0;
  double seconds = 0;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double tokens_per_second = 0;        // generated tokens / wall time
  double total_tokens_per_second = 0;  // (prompt + generated) tokens / wall time
  double ttft_mean_ms = 0;
  double ttft_p99_ms = 0;
};

absl::StatusOr<MixedLoadResult> RunMixedLoad(Engine& engine, const MixedLoadOptions& options);

}  // namespace surge::engine
