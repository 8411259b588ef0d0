// Vocab is the plain data of a tokenizer, as GGUF stores it under
// `tokenizer.ggml.*`: the GGUF reader fills one from file metadata, the
// writer turns one back into metadata, and Tokenizer::Create() checks it.
//
// Model: token ids are indices into `tokens`; `scores` (SPM) and `types` run
// parallel to it. For BPE, `merges` lists "left right" pairs, rank = index.
// An id field of -1 means "this vocabulary has no such token".
// Ownership: a value type; copy or move freely.
// Thread safety: plain data; safe to read from many threads, not to mutate
// while read.
// Errors: none here; Tokenizer::Create() validates and reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace surge::engine::model {

// tokenizer.ggml.model: "llama" → kSpm, "gpt2" → kBpe.
enum class TokenizerKind { kSpm, kBpe };

// tokenizer.ggml.token_type; values as in GGUF files.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct Vocab {
  TokenizerKind kind = TokenizerKind::kSpm;
  std::string pre;  // tokenizer.ggml.pre (BPE), e.g. "default", "llama-bpe", "qwen2"
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens
  std::vector<float> scores;        // tokenizer.ggml.scores (may be empty for BPE)
  std::vector<TokenType> types;     // tokenizer.ggml.token_type
  std::vector<std::string> merges;  // tokenizer.ggml.merges (BPE), "a b"
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = true;
};

// The built-in 32000-token vocabulary used by `surge model init`, trained on
// English text (see engine/model/data/README.md). kBpe: byte-level BPE with
// pre = "qwen2" and specials <|endoftext|>, <|im_start|>, <|im_end|>;
// kSpm: llama-style with <unk>, <s>, </s> and byte fallback. Parsed once on
// first use; each call returns a copy. Thread safety: thread-safe.
Vocab DefaultVocab(TokenizerKind kind);

}  // namespace surge::engine::model
