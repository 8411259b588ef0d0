#include "jobs/eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "engine/kv/kv_cache.h"
#include "engine/runner/runner.h"

namespace surge::jobs::eval {
namespace {

namespace runner = engine::runner;

constexpr int32_t kBlockSize = 16;
constexpr int64_t kPassTokens = 64;  // positions per runner pass

// -log softmax(logits)[target], in double.
double TokenNll(std::span<const float> logits, int32_t target) {
  float max = logits[0];
  for (float l : logits) max = std::max(max, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  return static_cast<double>(max) + std::log(sum) - logits[target];
}

// One window: tokens[begin, end) at positions 0.., scoring targets
// [first, end), in passes of at most kPassTokens positions (a pass attends
// to the window's earlier passes through the KV cache; the logits do not
// depend on the split). Adds to *nll_sum; after_pass(targets scored so far
// in all windows) runs after each pass.
absl::Status ScoreWindow(runner::Runner& r, std::span<const int32_t> tokens,
                         std::span<const int32_t> table, int64_t begin, int64_t end, int64_t first,
                         double* nll_sum, int64_t* scored,
                         const std::function<void()>& after_pass) {
  const int32_t n_vocab = r.model().config().n_vocab;
  std::vector<runner::SequenceChunk> chunks;
  for (int64_t pass = begin; pass < end; pass += kPassTokens) {
    const int64_t pass_end = std::min(pass + kPassTokens, end);
    chunks.clear();
    for (int64_t p = pass; p < pass_end; ++p) {
      // Position p predicts token p + 1.
      const bool want = p + 1 >= first && p + 1 < end;
      chunks.push_back({tokens.subspan(p, 1), p - begin, table, want});
    }
    std::span<float> logits = r.Forward(chunks);
    int64_t row = 0;
    for (int64_t target = std::max(first, pass + 1); target < std::min(pass_end + 1, end);
         ++target, ++row) {
      const double nll = TokenNll(logits.subspan(row * n_vocab, n_vocab), tokens[target]);
      if (!std::isfinite(nll)) {
        return absl::DataLossError(
            absl::StrCat("the model's log-likelihood of token ", target, " is not finite"));
      }
      *nll_sum += nll;
      ++*scored;
    }
    after_pass();
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<int32_t> TokenizeForEval(const engine::model::Tokenizer& tokenizer,
                                     std::string_view text) {
  return tokenizer.Encode(text, /*add_special=*/true, /*parse_special=*/false);
}

absl::StatusOr<PerplexityResult> ComputePerplexity(const engine::model::Model& model,
                                                   std::span<const int32_t> tokens,
                                                   const PerplexityOptions& options,
                                                   const PerplexityProgress& progress,
                                                   const std::atomic<bool>* cancel) {
  const engine::model::ModelConfig& c = model.config();
  const int64_t window =
      options.window > 0 ? std::min<int64_t>(options.window, c.n_ctx_train) : c.n_ctx_train;
  if (window < 2) return absl::InvalidArgumentError("the window must hold at least 2 tokens");
  if (options.max_tokens > 0 && static_cast<int64_t>(tokens.size()) > options.max_tokens + 1) {
    tokens = tokens.first(static_cast<size_t>(options.max_tokens + 1));
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n < 2) return absl::InvalidArgumentError("the text has fewer than two tokens");
  for (int32_t t : tokens) {
    if (t < 0 || t >= c.n_vocab) return absl::InvalidArgumentError("token id out of range");
  }

  PerplexityResult r;
  r.window = window;
  r.stride = std::max<int64_t>(1, window / 2);
  const int32_t num_blocks = static_cast<int32_t>((window + kBlockSize - 1) / kBlockSize);
  engine::kv::KvCache cache({c.n_layers, c.n_kv_heads, c.head_dim, kBlockSize, num_blocks});
  runner::Runner run(model, cache, std::max(1, options.num_threads));
  std::vector<int32_t> table(num_blocks);
  for (int32_t b = 0; b < num_blocks; ++b) table[b] = b;

  const base::TimePoint t0 = base::Clock::System().Now();
  double nll_sum = 0;
  int64_t next_target = 1;
  int64_t reported = 0;
  for (int64_t begin = 0;; begin += r.stride) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      return absl::CancelledError("cancelled");
    }
    const int64_t end = std::min(begin + window, n);
    const int64_t first = std::max(next_target, begin + 1);
    auto after_pass = [&] {
      if (progress && r.tokens > reported) {
        reported = r.tokens;
        progress(r.tokens, n - 1, std::exp(nll_sum / static_cast<double>(r.tokens)));
      }
    };
    SURGE_RETURN_IF_ERROR(
        ScoreWindow(run, tokens, table, begin, end, first, &nll_sum, &r.tokens, after_pass));
    next_target = end;
    ++r.windows;
    if (end == n) break;
  }
  r.seconds = base::ToSeconds(base::Clock::System().Now() - t0);
  r.nll = nll_sum / static_cast<double>(r.tokens);
  r.perplexity = std::exp(r.nll);
  r.tokens_per_second = r.seconds > 0 ? static_cast<double>(r.tokens) / r.seconds : 0;
  return r;
}

}  // namespace surge::jobs::eval
