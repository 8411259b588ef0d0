#include "engine/mixed_load_bench.h"

#include <algorithm>
#include <random>

#include "base/clock.h"

namespace surge::engine {

absl::StatusOr<MixedLoadResult> RunMixedLoad(Engine& engine, const MixedLoadOptions& o) {
  std::mt19937_64 rng(o.seed);
  const int32_t n_vocab = engine.model().config().n_vocab;
  auto uniform = [&](int32_t lo, int32_t hi) {
    return lo + static_cast<int32_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  MixedLoadResult result;
  result.num_requests = o.num_requests;
  std::vector<GenerationRequest> requests(o.num_requests);
  for (GenerationRequest& r : requests) {
    const int32_t prompt = uniform(o.min_prompt, o.max_prompt);
    for (int32_t i = 0; i < prompt; ++i) r.prompt.push_back(static_cast<int32_t>(rng() % n_vocab));
    result.prompt_tokens += prompt;
    r.max_tokens =
        std::min<int64_t>(uniform(o.min_output, o.max_output), engine.max_context() - prompt);
    r.ignore_eos = true;
    r.sampling.temperature = 0;
  }
  const base::TimePoint t0 = base::Clock::System().Now();
  std::vector<RequestHandle> handles;
  for (GenerationRequest& r : requests) {
    SURGE_ASSIGN_OR_RETURN(RequestHandle h, engine.Submit(std::move(r)));
    handles.push_back(std::move(h));
  }
  std::vector<double> ttft_ms;
  for (RequestHandle& h : handles) {
    for (;;) {
      std::optional<TokenStream::Item> item = h.stream->Next();
      if (!item) return absl::InternalError("token stream ended without a summary");
      if (item->summary) {
        ttft_ms.push_back(base::ToMillis(item->summary->time_to_first_token));
        result.generated_tokens += item->summary->completion_tokens;
        break;
      }
      if (item->event->finish && *item->event->finish != FinishReason::kLength) {
        return absl::InternalError("a benchmark request did not run to its length");
      }
    }
  }
  result.seconds = base::ToSeconds(base::Clock::System().Now() - t0);
  result.tokens_per_second = static_cast<double>(result.generated_tokens) / result.seconds;
  result.total_tokens_per_second =
      static_cast<double>(result.prompt_tokens + result.generated_tokens) / result.seconds;
  std::sort(ttft_ms.begin(), ttft_ms.end());
  for (double t : ttft_ms) result.ttft_mean_ms += t / static_cast<double>(ttft_ms.size());
  result.ttft_p99_ms = ttft_ms[std::min(
      ttft_ms.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(ttft_ms.size())))];
  return result;
}

}  // namespace surge::engine
