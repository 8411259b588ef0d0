#include "engine/runner/generator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace surge::engine::runner {

Generator::Generator(Runner& runner, kv::BlockPool& blocks) : runner_(runner), blocks_(blocks) {}

Generator::~Generator() {
  for (Sequence& s : seqs_) blocks_.Release(s.blocks);
}

int Generator::num_active() const {
  return static_cast<int>(
      std::count_if(seqs_.begin(), seqs_.end(), [](const Sequence& s) { return !s.finished; }));
}

absl::StatusOr<int> Generator::Add(std::span<const int32_t> prompt,
                                   const GenerateOptions& options) {
  const model::ModelConfig& c = runner_.model().config();
  const int64_t max_ctx = options.max_context > 0 ? options.max_context : c.n_ctx_train;
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt is empty");
  for (int32_t t : prompt) {
    if (t < 0 || t >= c.n_vocab) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", t, " is outside the vocabulary"));
    }
  }
  const int64_t total = static_cast<int64_t>(prompt.size()) + options.max_new_tokens;
  if (total > max_ctx) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt (", prompt.size(), " tokens) plus ",
                                                   options.max_new_tokens,
                                                   " new tokens exceeds the context of ", max_ctx));
  }
  SURGE_RETURN_IF_ERROR(ValidateSamplingParams(options.sampling));
  const int64_t block_size = runner_.block_size();
  Sequence s{.tokens = std::vector<int32_t>(prompt.begin(), prompt.end()),
             .sampler = Sampler(options.sampling),
             .options = options};
  const int32_t n_blocks = static_cast<int32_t>((total + block_size - 1) / block_size);
  std::optional<std::vector<int32_t>> blocks = blocks_.Allocate(n_blocks);
  if (!blocks) {
    return absl::ResourceExhaustedError(absl::StrCat("the KV cache has ", blocks_.num_free_blocks(),
                                                     " free blocks, the sequence needs ",
                                                     n_blocks));
  }
  s.blocks = *std::move(blocks);
  seqs_.push_back(std::move(s));
  return static_cast<int>(seqs_.size()) - 1;
}

void Generator::Accept(int seq, std::span<float> logits,
                       absl::FunctionRef<void(int seq, int32_t token)> on_token) {
  Sequence& s = seqs_[seq];
  const int32_t token = s.sampler.Sample(logits).token;
  s.tokens.push_back(token);
  s.generated.push_back(token);
  on_token(seq, token);
  if (!s.options.ignore_eos && runner_.model().tokenizer().IsEndOfGeneration(token)) {
    s.finished = s.stopped_on_eos = true;
  } else if (static_cast<int32_t>(s.generated.size()) >= s.options.max_new_tokens) {
    s.finished = true;
  }
}

void Generator::Prefill(int64_t max_batch_tokens,
                        absl::FunctionRef<void(int seq, int32_t token)> on_token) {
  const int64_t n_vocab = runner_.model().config().n_vocab;
  for (;;) {
    std::vector<SequenceChunk> chunks;
    std::vector<int> owners;
    int64_t budget = max_batch_tokens;
    for (int i = 0; i < static_cast<int>(seqs_.size()) && budget > 0; ++i) {
      Sequence& s = seqs_[i];
      const int64_t pending = static_cast<int64_t>(s.tokens.size()) - s.n_computed;
      if (s.finished || !s.generated.empty() || pending <= 0) continue;
      const int64_t n = std::min(pending, budget);
      budget -= n;
      chunks.push_back({std::span<const int32_t>(s.tokens).subspan(s.n_computed, n), s.n_computed,
                        s.blocks, s.n_computed + n == static_cast<int64_t>(s.tokens.size())});
      owners.push_back(i);
    }
    if (chunks.empty()) return;
    std::span<float> logits = runner_.Forward(chunks);
    int64_t row = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
      Sequence& s = seqs_[owners[c]];
      s.n_computed += static_cast<int64_t>(chunks[c].tokens.size());
      if (chunks[c].want_logits) {
        if (s.options.max_new_tokens == 0) {
          s.finished = true;
        } else {
          Accept(owners[c], logits.subspan(row * n_vocab, n_vocab), on_token);
        }
        ++row;
      }
    }
  }
}

int Generator::DecodeStep(absl::FunctionRef<void(int seq, int32_t token)> on_token) {
  const int64_t n_vocab = runner_.model().config().n_vocab;
  std::vector<SequenceChunk> chunks;
  std::vector<int> owners;
  for (int i = 0; i < static_cast<int>(seqs_.size()); ++i) {
    Sequence& s = seqs_[i];
    if (s.finished || s.generated.empty()) continue;
    SURGE_CHECK(s.n_computed + 1 == static_cast<int64_t>(s.tokens.size()));
    chunks.push_back({std::span<const int32_t>(s.tokens).subspan(s.n_computed, 1), s.n_computed,
                      s.blocks, true});
    owners.push_back(i);
  }
  if (chunks.empty()) return 0;
  std::span<float> logits = runner_.Forward(chunks);
  for (size_t c = 0; c < chunks.size(); ++c) {
    seqs_[owners[c]].n_computed += 1;
    Accept(owners[c], logits.subspan(c * n_vocab, n_vocab), on_token);
  }
  return num_active();
}

}  // namespace surge::engine::runner
