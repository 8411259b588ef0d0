// The built-in vocabularies behind DefaultVocab() (declared in vocab.h):
// how their embedded data files are parsed, and the escaping of the SPM
// pieces file, shared with the make_vocab tool that writes them.
//
// BPE file: one merge per line, "left right" in GPT-2 byte-level text. The
// vocabulary is the 256 byte tokens (in byte order), then each merge's
// result the first time it appears, then <|endoftext|>, <|im_start|>,
// <|im_end|>.
// SPM file: one piece per line, "score<TAB>piece", piece escaped with
// EscapePiece(). The vocabulary is <unk>, <s>, </s>, <0x00>..<0xFF>, then
// the pieces in file order.
// Both must come to exactly kDefaultVocabSize tokens.
//
// Thread safety: stateless functions; thread-safe.
// Errors: Parse* return InvalidArgument on malformed data (DefaultVocab
// treats that as a bug: the data is ours and tested).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/model/vocab.h"

namespace surge::engine::model {

inline constexpr int32_t kDefaultVocabSize = 32000;

// Special tokens of the default BPE vocabulary, at the end of it.
inline constexpr std::string_view kDefaultBpeSpecials[] = {"<|endoftext|>", "<|im_start|>",
                                                           "<|im_end|>"};

[[nodiscard]] absl::StatusOr<Vocab> ParseDefaultBpeVocab(std::string_view merges_text);
[[nodiscard]] absl::StatusOr<Vocab> ParseDefaultSpmVocab(std::string_view pieces_text);

// Makes a piece safe for one line: \\ → "\\\\", \n → "\\n", \t → "\\t",
// other control bytes → "\\xHH".
std::string EscapePiece(std::string_view piece);
[[nodiscard]] absl::StatusOr<std::string> UnescapePiece(std::string_view escaped);

}  // namespace surge::engine::model
