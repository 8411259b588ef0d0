// The engine benchmark behind `surge run --bench`: the figures llama-bench
// reports (prompt processing and generation tokens/s) plus aggregate decode
// throughput with several sequences in one batch, measured on the Runner
// directly (no HTTP, no sampling in the timed region).
//
// Thread safety: runs on the calling thread and the runner's pool.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "base/status.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/model.h"

namespace surge::engine::runner {

struct EngineBenchOptions {
  int num_threads = 0;      // 0: one per core
  int64_t pp_tokens = 512;  // prompt length for pp (clamped to the context)
  int64_t tg_tokens = 128;  // tokens generated for tg
  std::vector<int> batch_sizes = {1, 4, 16, 64};
  int64_t batch_prompt_tokens = 32;  // context each batched sequence starts from
  int64_t batch_steps = 32;          // decode steps timed per batch size
  int repetitions = 3;               // each figure is the mean over repetitions
  int64_t max_batch_tokens = 512;    // prefill pass size
  kv::KvType kv_type = kv::KvType::kF16;
};

struct Figure {
  double mean = 0;    // tokens/s
  double stddev = 0;  // across repetitions
};

struct EngineBenchResult {
  Figure pp;                      // prompt processing tokens/s
  Figure tg;                      // single-sequence generation tokens/s
  std::map<int, Figure> batched;  // batch size → aggregate decode tokens/s
  int64_t pp_tokens = 0;
  int64_t tg_tokens = 0;
  int64_t batch_context = 0;  // context each batched sequence started from
  int num_threads = 0;
  int64_t decode_bytes = 0;  // weight bytes streamed per decode step
  int64_t kv_cache_bytes = 0;
  int64_t peak_rss_bytes = 0;
  // Cache-line round trip between two pool threads, ns, before and after.
  double handoff_ns[2] = {0, 0};
};

absl::StatusOr<EngineBenchResult> RunEngineBench(const model::Model& model,
                                                 const EngineBenchOptions& options);

// Peak resident set size of this process so far (VmHWM), 0 if unknown.
int64_t PeakRssBytes();

}  // namespace surge::engine::runner
