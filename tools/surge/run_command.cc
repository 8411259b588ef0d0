// `surge run`: one-shot generation, or the engine benchmark with --bench.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "engine/engine.h"
#include "engine/kv/block_pool.h"
#include "engine/kv/kv_cache.h"
#include "engine/mixed_load_bench.h"
#include "engine/model/model.h"
#include "engine/runner/engine_bench.h"
#include "engine/runner/generator.h"
#include "engine/runner/runner.h"
#include "tools/surge/commands.h"

namespace surge::cli {
namespace {

using engine::model::Model;
using engine::runner::EngineBenchResult;

struct RunFlags {
  std::string model_path;
  std::string prompt;
  int32_t max_tokens = 128;
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int64_t seed = -1;
  bool ignore_eos = false;
  int threads = 0;
  int64_t max_batch_tokens = 512;
  bool bench = false;
  bool json = false;
  bool mixed = true;
  int repetitions = 3;
  int64_t pp_tokens = 512;
  int64_t tg_tokens = 128;
  std::vector<int> batch_sizes = engine::runner::EngineBenchOptions{}.batch_sizes;
  int64_t batch_context = engine::runner::EngineBenchOptions{}.batch_prompt_tokens;
  std::string kv_type = "f16";
};

using MixedFigures = std::map<int, engine::MixedLoadResult>;

std::string FormatFigures(const EngineBenchResult& r, const MixedFigures& mixed, bool json) {
  if (json) {
    std::string batched, mix;
    for (const auto& [n, f] : r.batched) {
      batched += absl::StrFormat("%s\"%d\":%.2f", batched.empty() ? "" : ",", n, f.mean);
    }
    for (const auto& [n, m] : mixed) {
      mix += absl::StrFormat(
          "%s\"%d\":{\"tps\":%.2f,\"total_tps\":%.2f,\"ttft_mean_ms\":%.1f,\"ttft_p99_ms\":%.1f}",
          mix.empty() ? "" : ",", n, m.tokens_per_second, m.total_tokens_per_second, m.ttft_mean_ms,
          m.ttft_p99_ms);
    }
    return absl::StrFormat(
        "{\"pp%d_tps\":%.2f,\"tg%d_tps\":%.2f,\"batched_decode_tps\":{%s},\"mixed_load\":{%s},"
        "\"batch_context\":%d,\"threads\":%d,\"thread_handoff_ns\":[%.0f,%.0f],\"decode_bytes\":%d,"
        "\"kv_cache_bytes\":%d,\"peak_rss_bytes\":%d}\n",
        r.pp_tokens, r.pp.mean, r.tg_tokens, r.tg.mean, batched, mix, r.batch_context,
        r.num_threads, r.handoff_ns[0], r.handoff_ns[1], r.decode_bytes, r.kv_cache_bytes,
        r.peak_rss_bytes);
  }
  const double bw = r.tg.mean * static_cast<double>(r.decode_bytes) / 1e9;
  std::string out = absl::StrFormat(
      "threads %d  weights/step %.1f MB  KV cache %.1f MB  peak RSS %.1f MB\n"
      "thread handoff %.0f ns before, %.0f ns after (round trip of a cache line)\n"
      "pp%-4d %10.1f tok/s  (±%.1f)\n"
      "tg%-4d %10.1f tok/s  (±%.1f)  %.1f GB/s of weights\n",
      r.num_threads, r.decode_bytes / 1e6, r.kv_cache_bytes / 1e6, r.peak_rss_bytes / 1e6,
      r.handoff_ns[0], r.handoff_ns[1], r.pp_tokens, r.pp.mean, r.pp.stddev, r.tg_tokens, r.tg.mean,
      r.tg.stddev, bw);
  for (const auto& [n, f] : r.batched) {
    out += absl::StrFormat("decode x%-3d %7.1f tok/s  (±%.1f)  from %d tokens of context\n", n,
                           f.mean, f.stddev, r.batch_context);
  }
  for (const auto& [n, m] : mixed) {
    out += absl::StrFormat(
        "mixed x%-3d  %7.1f tok/s  (%.1f with prompts)  TTFT mean %.0f ms, p99 %.0f ms\n", n,
        m.tokens_per_second, m.total_tokens_per_second, m.ttft_mean_ms, m.ttft_p99_ms);
  }
  return out;
}

int RunBench(const Model& model, const RunFlags& flags) {
  engine::runner::EngineBenchOptions options;
  options.num_threads = flags.threads;
  options.repetitions = flags.repetitions;
  options.batch_sizes = flags.batch_sizes;
  options.batch_prompt_tokens = flags.batch_context;
  options.pp_tokens = flags.pp_tokens;
  options.tg_tokens = flags.tg_tokens;
  options.max_batch_tokens = flags.max_batch_tokens;
  options.kv_type = *engine::kv::KvTypeFromName(flags.kv_type);
  absl::StatusOr<EngineBenchResult> r = engine::runner::RunEngineBench(model, options);
  if (!r.ok()) {
    std::fprintf(stderr, "surge run: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  // Mixed load through the Engine: random prompt/output lengths, all at once.
  MixedFigures mixed;
  if (flags.mixed) {
    engine::EngineConfig config;
    config.num_threads = flags.threads;
    config.max_batch_tokens = flags.max_batch_tokens;
    config.kv_type = options.kv_type;
    absl::StatusOr<std::unique_ptr<engine::Engine>> e = engine::Engine::Create(model, config);
    if (!e.ok()) {
      std::fprintf(stderr, "surge run: %s\n", std::string(e.status().message()).c_str());
      return 1;
    }
    (*e)->Start();
    const int32_t ctx = static_cast<int32_t>((*e)->max_context());
    for (int n : {1, 16, 64}) {
      engine::MixedLoadOptions o;
      o.num_requests = n;
      o.max_prompt = std::min(256, ctx / 2);
      o.max_output = std::min(128, ctx / 4);
      absl::StatusOr<engine::MixedLoadResult> m = engine::RunMixedLoad(**e, o);
      if (!m.ok()) {
        std::fprintf(stderr, "surge run: %s\n", std::string(m.status().message()).c_str());
        return 1;
      }
      mixed[n] = *m;
    }
  }
  std::fputs(FormatFigures(*r, mixed, flags.json).c_str(), stdout);
  return 0;
}

int Generate(const Model& model, const RunFlags& flags) {
  const auto& c = model.config();
  const auto& tok = model.tokenizer();
  std::vector<int32_t> prompt = tok.Encode(flags.prompt, /*add_special=*/true,
                                           /*parse_special=*/true);
  engine::runner::GenerateOptions options;
  options.max_new_tokens = flags.max_tokens;
  options.ignore_eos = flags.ignore_eos;
  options.sampling.temperature = flags.temperature;
  options.sampling.top_k = flags.top_k;
  options.sampling.top_p = flags.top_p;
  options.sampling.min_p = flags.min_p;
  options.sampling.repetition_penalty = flags.repeat_penalty;
  options.sampling.seed =
      flags.seed >= 0 ? static_cast<uint64_t>(flags.seed) : std::random_device()();

  const int32_t block_size = 16;
  const int32_t num_blocks = (c.n_ctx_train + block_size - 1) / block_size;
  const engine::kv::KvType kv_type = *engine::kv::KvTypeFromName(flags.kv_type);
  if (absl::Status s = engine::kv::CheckKvType(kv_type, c.head_dim); !s.ok()) {
    return Fail("run", s);
  }
  engine::kv::KvCache cache(
      {c.n_layers, c.n_kv_heads, c.head_dim, block_size, num_blocks, kv_type});
  engine::kv::BlockPool blocks(num_blocks);
  const int threads =
      flags.threads > 0 ? flags.threads : static_cast<int>(std::thread::hardware_concurrency());
  engine::runner::Runner runner(model, cache, threads);
  engine::runner::Generator gen(runner, blocks);
  absl::StatusOr<int> seq = gen.Add(prompt, options);
  if (!seq.ok()) {
    std::fprintf(stderr, "surge run: %s\n", std::string(seq.status().message()).c_str());
    return 1;
  }
  engine::model::StreamingDecoder decoder(tok);
  auto emit = [&](int, int32_t token) {
    if (tok.IsEndOfGeneration(token) && !flags.ignore_eos) return;
    std::string text = decoder.Push(token);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  gen.Prefill(flags.max_batch_tokens, emit);
  while (gen.DecodeStep(emit) > 0) {
  }
  std::string rest = decoder.Flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  SURGE_LOG_INFO("prompt {} tokens, generated {} tokens", prompt.size(),
                 gen.generated(*seq).size());
  return 0;
}

}  // namespace

CommandFn RegisterRun(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  app.add_option("-m,--model", flags->model_path, "GGUF model file")->required();
  app.add_option("-p,--prompt", flags->prompt, "prompt text");
  app.add_option("-n,--max-tokens", flags->max_tokens, "tokens to generate")->capture_default_str();
  app.add_option("--temp", flags->temperature, "sampling temperature (0 = greedy)")
      ->capture_default_str();
  app.add_option("--top-k", flags->top_k, "top-k (0 = off)")->capture_default_str();
  app.add_option("--top-p", flags->top_p, "top-p (1 = off)")->capture_default_str();
  app.add_option("--min-p", flags->min_p, "min-p (0 = off)")->capture_default_str();
  app.add_option("--repeat-penalty", flags->repeat_penalty, "repetition penalty (1 = off)")
      ->capture_default_str();
  app.add_option("--seed", flags->seed, "sampling seed (-1 = random)")->capture_default_str();
  app.add_flag("--ignore-eos", flags->ignore_eos, "keep generating past end-of-sequence tokens");
  app.add_option("-t,--threads", flags->threads, "compute threads (0 = one per core)")
      ->capture_default_str();
  app.add_option("--max-batch-tokens", flags->max_batch_tokens, "tokens per prefill pass")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_flag("--bench", flags->bench, "benchmark: pp512, tg128, batched decode at 1/4/16/64");
  app.add_flag("--json", flags->json, "with --bench: print one JSON object");
  app.add_flag("!--no-mixed", flags->mixed, "with --bench: skip the mixed-load figures");
  app.add_option("--pp-tokens", flags->pp_tokens, "with --bench: prompt length for pp")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--tg-tokens", flags->tg_tokens, "with --bench: tokens generated for tg")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--repetitions", flags->repetitions, "with --bench: repetitions per figure")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--batch-sizes", flags->batch_sizes,
                 "with --bench: sequences per batch for the batched-decode figures")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--kv-type", flags->kv_type,
                 "K/V cache rows: f16, or q8_0 (half the memory, head size a multiple of 32)")
      ->capture_default_str()
      ->check(CLI::IsMember({"f16", "q8_0"}));
  app.add_option("--batch-context", flags->batch_context,
                 "with --bench: context tokens each batched sequence starts from")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  return [flags]() -> int {
    absl::StatusOr<std::unique_ptr<Model>> model = Model::Load(flags->model_path);
    if (!model.ok()) {
      std::fprintf(stderr, "surge run: %s\n", std::string(model.status().message()).c_str());
      return 1;
    }
    return flags->bench ? RunBench(**model, *flags) : Generate(**model, *flags);
  };
}

}  // namespace surge::cli
