// The raw text of the embedded default-vocabulary data files (see
// engine/model/data/README.md for their format). default_vocab.cc parses
// them; make_vocab writes them.
//
// Thread safety: read-only data; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

extern "C" {
extern const char surge_default_bpe_merges_data[];
extern const uint64_t surge_default_bpe_merges_size;
extern const char surge_default_spm_pieces_data[];
extern const uint64_t surge_default_spm_pieces_size;
}

namespace surge::engine::model {

// default_bpe_merges.txt: one merge "left right" per line, byte-level text.
std::string_view DefaultBpeMergesText();
// default_spm_pieces.txt: one "score<TAB>escaped piece" per line.
std::string_view DefaultSpmPiecesText();

}  // namespace surge::engine::model
