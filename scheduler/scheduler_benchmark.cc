// Cost of the scheduler itself per engine step: Schedule() + Update() with
// 256 running sequences and no model. An engine step on the `small` model
// takes tens of milliseconds; this must stay far below 2% of that.
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/kv/kv_cache_manager.h"
#include "scheduler/scheduler.h"

namespace surge::scheduler {
namespace {

// Steady decode: `n` sequences with long outputs, one token each per step.
// Every max_tokens steps a sequence finishes and a new one replaces it, so
// admission, prefill chunks and block growth stay in the loop.
void BM_ScheduleUpdate(benchmark::State& state) {
  const int32_t num_seqs = static_cast<int32_t>(state.range(0));
  const int32_t prompt_len = static_cast<int32_t>(state.range(1));
  const int32_t max_tokens = 256;
  base::FakeClock clock;
  engine::kv::KvCacheManager kv(num_seqs * ((prompt_len + max_tokens) / 16 + 2), 16);
  SchedulerConfig config;
  config.max_batch_tokens = 512;
  config.max_running_seqs = num_seqs;
  Scheduler scheduler(config, kv, clock);
  int64_t next_id = 0;
  auto add = [&] {
    Request r;
    r.id = base::RequestId(next_id++);
    for (int32_t i = 0; i < prompt_len; ++i) r.prompt.push_back(static_cast<int32_t>(next_id + i));
    r.max_tokens = max_tokens;
    (void)scheduler.Add(std::move(r));
  };
  for (int32_t i = 0; i < num_seqs; ++i) add();
  // Warm up until every sequence is decoding.
  std::vector<int32_t> generated(static_cast<size_t>(num_seqs) * 1024, 0);
  StepResult result;
  auto step = [&] {
    StepPlan plan = scheduler.Schedule();
    result.sampled.clear();
    int32_t finished = 0;
    for (const ScheduledSequence& e : plan.sequences) {
      if (!e.needs_logits) continue;
      const bool done = ++generated[static_cast<size_t>(e.seq.value())] >= max_tokens;
      finished += done;
      result.sampled.push_back({e.seq, 7, done});
    }
    scheduler.Update(plan, result);
    for (int32_t i = 0; i < finished; ++i) add();
    if (generated.size() < static_cast<size_t>(next_id) * 2) generated.resize(generated.size() * 2);
    return plan.num_tokens;
  };
  for (int i = 0; i < 64; ++i) step();
  int64_t tokens = 0;
  for (auto _ : state) tokens += step();
  state.counters["running"] = scheduler.num_running();
  state.counters["tokens/step"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ScheduleUpdate)->Args({256, 32})->Args({256, 512})->Args({64, 32});

}  // namespace
}  // namespace surge::scheduler

BENCHMARK_MAIN();
