// Workload: the prompts and output lengths `surge bench` sends, and the
// request bodies that carry them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/load/config.h"

namespace surge::bench {

struct Message {
  std::string role;
  std::string content;
};

// One request to send: its messages (chat form; the completions endpoint
// gets their contents joined) and its output length.
struct RequestSpec {
  int64_t index = 0;
  std::vector<Message> messages;
  int64_t max_tokens = 0;
};

// Synthetic prompts are words drawn from a fixed list of common English
// words. The client cannot run the server's tokenizer, so lengths are
// approximate: N tokens become N / kTokensPerWord words (measured on Surge's
// built-in vocabulary; other tokenizers differ by some percent). The report
// shows the prompt tokens the server counted (usage.prompt_tokens).
inline constexpr double kTokensPerWord = 1.0;

// Request i of stream s (a level ordinal; warm-up has its own) is a pure
// function of (seed, s, i): the same on both servers of a --compare and on
// every repeat, different between levels so one level does not warm the
// prefix cache for the next. Shared prefixes are the same in every stream:
// request i starts with system prompt i mod num_prefixes.
// Dataset mode: entries are used in an order shuffled by the seed, each
// stream starting at its own offset, wrapping around.
//
// Thread safety: immutable after Create(); Request() is const and safe from
// any thread.
class Workload {
 public:
  // Reads the dataset if the config names one.
  static absl::StatusOr<Workload> Create(const BenchConfig& config);

  RequestSpec Request(uint64_t stream, int64_t index) const;

  size_t num_dataset_entries() const { return dataset_.size(); }
  const std::vector<std::string>& prefixes() const { return prefixes_; }

 private:
  Workload() = default;

  uint64_t seed_ = 0;
  IntRange prompt_tokens_;
  IntRange max_tokens_;
  std::vector<std::string> prefixes_;          // system prompts (synthetic only)
  std::vector<std::vector<Message>> dataset_;  // entries, in file order
  std::vector<uint32_t> order_;                // shuffled entry order
};

// Text of about `tokens` tokens (see kTokensPerWord), drawn from `seed`.
std::string SyntheticText(int64_t tokens, uint64_t seed);

// Parses a JSONL dataset: one JSON object per line, either {"prompt": "..."}
// or {"messages": [{"role": "...", "content": "..."}, ...]}; other fields are
// ignored, blank lines skipped. Errors name the line.
absl::StatusOr<std::vector<std::vector<Message>>> ParseDataset(std::string_view jsonl);

struct BodyOptions {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;  // omitted from the body when empty
  bool stream = true;
  bool ignore_eos = false;
  double temperature = 0;
};

// The JSON body of POST /v1/completions or /v1/chat/completions. Streaming
// asks for stream_options.include_usage so token counts are exact.
std::string BuildRequestBody(const RequestSpec& spec, const BodyOptions& options);

}  // namespace surge::bench
