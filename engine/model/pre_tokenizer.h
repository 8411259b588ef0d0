// PreTokenizer splits text into the words that byte-level BPE merges within,
// using the regular expression a model family was trained with (selected by
// GGUF's tokenizer.ggml.pre). Runs on PCRE2 in UTF + UCP mode with
// PCRE2_MATCH_INVALID_UTF, so arbitrary bytes are safe: bytes no pattern can
// match (invalid UTF-8) come out as words of their own.
//
// Model: Split() returns views into its input that cover it exactly, in
// order, with no empty words.
// Ownership: owns the compiled (and, where available, JIT-compiled) pattern.
// Thread safety: immutable after Create(); Split() is safe to call
// concurrently (each call uses its own PCRE2 match data).
// Errors: Create() returns InvalidArgument for an unknown name, naming the
// supported ones; Internal if PCRE2 rejects a pattern (a bug).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace surge::engine::model {

class PreTokenizer {
 public:
  // `name` is a tokenizer.ggml.pre value; "" means "default".
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(std::string_view name);

  // The accepted names, for error messages and docs.
  static std::vector<std::string> SupportedNames();

  // The regular expression used for `name`, or "" if unknown.
  static std::string_view PatternFor(std::string_view name);

  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the words of `text` to `words` (views into `text`).
  void Split(std::string_view text, std::vector<std::string_view>* words) const;

  // True for families whose tokenizer emits a whole word as one token when
  // the word is in the vocabulary, before trying merges (Llama 3).
  bool ignore_merges() const { return ignore_merges_; }

 private:
  struct Code;
  PreTokenizer(Code* code, bool ignore_merges) : code_(code), ignore_merges_(ignore_merges) {}

  Code* code_;  // owned
  bool ignore_merges_;
};

}  // namespace surge::engine::model
