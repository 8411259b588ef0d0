// Embeds the trained default vocabularies (engine/model/data/) in the
// library. File-scope asm with .incbin keeps the build free of generators
// and of an extra (ASM) CMake language; it works with both g++ and clang++.
// SURGE_VOCAB_DATA_DIR is set by tokenizer.cmake, which also makes this
// file rebuild when the data files change (OBJECT_DEPENDS).
#include "engine/model/default_vocab_data.h"

#ifndef SURGE_VOCAB_DATA_DIR
#error "SURGE_VOCAB_DATA_DIR must name engine/model/data"
#endif

// Each blob gets a begin symbol, a trailing NUL (not counted) and a size.
// clang-format off
#define SURGE_EMBED(name, file)                               \
  ".pushsection .rodata, \"a\", @progbits\n"                  \
  ".globl " name "_data\n"                                    \
  ".type " name "_data, @object\n"                            \
  ".balign 16\n"                                              \
  name "_data:\n"                                             \
  ".incbin \"" SURGE_VOCAB_DATA_DIR "/" file "\"\n"           \
  ".Lend_" name ":\n"                                         \
  ".byte 0\n"                                                 \
  ".size " name "_data, . - " name "_data\n"                  \
  ".globl " name "_size\n"                                    \
  ".type " name "_size, @object\n"                            \
  ".balign 8\n"                                               \
  name "_size:\n"                                             \
  ".quad .Lend_" name " - " name "_data\n"                    \
  ".size " name "_size, 8\n"                                  \
  ".popsection\n"
// clang-format on

__asm__(SURGE_EMBED("surge_default_bpe_merges", "default_bpe_merges.txt"));
__asm__(SURGE_EMBED("surge_default_spm_pieces", "default_spm_pieces.txt"));

namespace surge::engine::model {

std::string_view DefaultBpeMergesText() {
  return {surge_default_bpe_merges_data, static_cast<size_t>(surge_default_bpe_merges_size)};
}

std::string_view DefaultSpmPiecesText() {
  return {surge_default_spm_pieces_data, static_cast<size_t>(surge_default_spm_pieces_size)};
}

}  // namespace surge::engine::model
