#include "engine/runner/engine_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_format.h"
#include "base/clock.h"
#include "engine/kv/block_pool.h"
#include "engine/kv/kv_cache.h"
#include "engine/runner/runner.h"

namespace surge::engine::runner {
namespace {

constexpr int32_t kBlockSize = 16;

Figure Summarise(const std::vector<double>& samples) {
  Figure f;
  for (double s : samples) f.mean += s;
  f.mean /= static_cast<double>(samples.size());
  for (double s : samples) f.stddev += (s - f.mean) * (s - f.mean);
  f.stddev = samples.size() > 1 ? std::sqrt(f.stddev / (samples.size() - 1)) : 0.0;
  return f;
}

// Deterministic pseudo-random token ids (benchmarks want realistic, not
// repeated, tokens; the values do not affect the timing of dense kernels).
std::vector<int32_t> BenchTokens(int64_t n, int32_t n_vocab, uint64_t seed) {
  std::vector<int32_t> out(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (int64_t i = 0; i < n; ++i) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    out[i] = static_cast<int32_t>((x * 0x2545F4914F6CDD1DULL) >> 33) % n_vocab;
  }
  return out;
}

int32_t BlocksFor(int64_t tokens) {
  return static_cast<int32_t>((tokens + kBlockSize - 1) / kBlockSize);
}

double Seconds(base::TimePoint since) {
  return base::ToSeconds(base::Clock::System().Now() - since);
}

// Round trip of one cache line between pool threads 0 and 1, in ns: about
// 50-60 when the two cores share a last-level cache, several times that when
// a host has placed them on different core complexes, where a batched step
// (whose threads hand activations to each other every op) runs up to ~25%
// slower. Printed with the figures so that runs can be compared like for
// like on a shared host (taken before and after, as placement can change
// mid-run). 0 with one thread.
double HandoffRoundTripNs(kernels::ThreadPool& pool) {
  if (pool.num_threads() < 2) return 0;
  // Batches of round trips; the fastest batch is the figure (the first ones
  // can include waking a sleeping worker or a descheduled vCPU).
  constexpr int kBatches = 8, kRounds = 2000;
  double best = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    alignas(64) std::atomic<int> ball{0};
    pool.Run([&](int thread, int) {
      if (thread == 0) {
        const base::TimePoint t0 = base::Clock::System().Now();
        for (int i = 0; i < kRounds; ++i) {
          ball.store(2 * i + 1, std::memory_order_release);
          while (ball.load(std::memory_order_acquire) != 2 * i + 2) {
          }
        }
        const double ns = Seconds(t0) * 1e9 / kRounds;
        best = batch == 0 ? ns : std::min(best, ns);
      } else if (thread == 1) {
        for (int i = 0; i < kRounds; ++i) {
          while (ball.load(std::memory_order_acquire) != 2 * i + 1) {
          }
          ball.store(2 * i + 2, std::memory_order_release);
        }
      }
    });
  }
  return best;
}

}  // namespace

int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

absl::StatusOr<EngineBenchResult> RunEngineBench(const model::Model& model,
                                                 const EngineBenchOptions& options) {
  const model::ModelConfig& c = model.config();
  EngineBenchResult r;
  r.num_threads = options.num_threads > 0 ? options.num_threads
                                          : static_cast<int>(std::thread::hardware_concurrency());
  r.pp_tokens = std::min<int64_t>(options.pp_tokens, c.n_ctx_train);
  r.tg_tokens = std::min<int64_t>(options.tg_tokens, c.n_ctx_train);
  r.batch_context = options.batch_prompt_tokens;
  const int max_batch = *std::max_element(options.batch_sizes.begin(), options.batch_sizes.end());
  const int64_t batch_ctx = options.batch_prompt_tokens + options.batch_steps;
  if (batch_ctx > c.n_ctx_train) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "batch context %d + %d decode steps exceeds the model's context of %d tokens",
        options.batch_prompt_tokens, options.batch_steps, c.n_ctx_train));
  }
  const int32_t num_blocks =
      std::max({BlocksFor(r.pp_tokens), BlocksFor(r.tg_tokens), max_batch * BlocksFor(batch_ctx)});

  SURGE_RETURN_IF_ERROR(kv::CheckKvType(options.kv_type, c.head_dim));
  kv::KvCache cache(
      {c.n_layers, c.n_kv_heads, c.head_dim, kBlockSize, num_blocks, options.kv_type});
  r.kv_cache_bytes = cache.bytes();
  r.decode_bytes = model.weights().decode_bytes();
  kv::BlockPool pool(num_blocks);
  Runner runner(model, cache, r.num_threads);
  r.handoff_ns[0] = HandoffRoundTripNs(runner.pool());
  std::vector<int32_t> table(num_blocks);
  for (int32_t b = 0; b < num_blocks; ++b) table[b] = b;

  std::vector<double> pp, tg;
  const std::vector<int32_t> prompt = BenchTokens(r.pp_tokens, c.n_vocab, 1);
  const std::vector<int32_t> gen = BenchTokens(r.tg_tokens, c.n_vocab, 2);
  for (int rep = 0; rep <= options.repetitions; ++rep) {  // rep 0 warms up
    base::TimePoint t0 = base::Clock::System().Now();
    for (int64_t done = 0; done < r.pp_tokens;) {
      const int64_t n = std::min(options.max_batch_tokens, r.pp_tokens - done);
      SequenceChunk chunk{std::span<const int32_t>(prompt).subspan(done, n), done, table,
                          done + n == r.pp_tokens};
      runner.Forward({&chunk, 1});
      done += n;
    }
    if (rep > 0) pp.push_back(static_cast<double>(r.pp_tokens) / Seconds(t0));

    t0 = base::Clock::System().Now();
    for (int64_t i = 0; i < r.tg_tokens; ++i) {
      SequenceChunk chunk{std::span<const int32_t>(gen).subspan(i, 1), i, table, true};
      runner.Forward({&chunk, 1});
    }
    if (rep > 0) tg.push_back(static_cast<double>(r.tg_tokens) / Seconds(t0));
  }
  r.pp = Summarise(pp);
  r.tg = Summarise(tg);

  for (int n_seq : options.batch_sizes) {
    std::vector<std::vector<int32_t>> tokens(n_seq), tables(n_seq);
    for (int s = 0; s < n_seq; ++s) {
      tokens[s] = BenchTokens(batch_ctx, c.n_vocab, 100 + s);
      tables[s].assign(table.begin() + s * BlocksFor(batch_ctx),
                       table.begin() + (s + 1) * BlocksFor(batch_ctx));
    }
    std::vector<double> samples;
    for (int rep = 0; rep <= options.repetitions; ++rep) {
      // Prefill every sequence's starting context (untimed), then time decode.
      for (int s = 0; s < n_seq; ++s) {
        SequenceChunk chunk{std::span<const int32_t>(tokens[s]).first(options.batch_prompt_tokens),
                            0, tables[s], true};
        runner.Forward({&chunk, 1});
      }
      base::TimePoint t0 = base::Clock::System().Now();
      std::vector<SequenceChunk> chunks(n_seq);
      for (int64_t step = 0; step < options.batch_steps; ++step) {
        const int64_t pos = options.batch_prompt_tokens + step;
        for (int s = 0; s < n_seq; ++s) {
          chunks[s] = {std::span<const int32_t>(tokens[s]).subspan(pos, 1), pos, tables[s], true};
        }
        runner.Forward(chunks);
      }
      if (rep > 0)
        samples.push_back(static_cast<double>(n_seq * options.batch_steps) / Seconds(t0));
    }
    r.batched[n_seq] = Summarise(samples);
  }
  r.handoff_ns[1] = HandoffRoundTripNs(runner.pool());
  r.peak_rss_bytes = PeakRssBytes();
  return r;
}

}  // namespace surge::engine::runner
