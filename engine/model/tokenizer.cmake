# Tokenizers: surge_tokenizer (SPM + byte-level BPE, the trained default
# vocabularies, the BPE trainer). Depends only on surge_base, absl, PCRE2.
# Paths are relative to this file, so it can be included from anywhere.
set(_tok ${CMAKE_CURRENT_LIST_DIR})
set(SURGE_VOCAB_DATA_FILES
    ${_tok}/data/default_bpe_merges.txt
    ${_tok}/data/default_spm_pieces.txt)
# default_vocab_data.cc .incbin's the data files: rebuild it when they change.
set_source_files_properties(${_tok}/default_vocab_data.cc PROPERTIES
  COMPILE_DEFINITIONS "SURGE_VOCAB_DATA_DIR=\"${_tok}/data\""
  OBJECT_DEPENDS "${SURGE_VOCAB_DATA_FILES}")

surge_library(surge_tokenizer
  SRCS ${_tok}/unicode.cc ${_tok}/pre_tokenizer.cc ${_tok}/tokenizer.cc
       ${_tok}/spm_tokenizer.cc ${_tok}/bpe_tokenizer.cc ${_tok}/streaming_decoder.cc
       ${_tok}/bpe_trainer.cc ${_tok}/default_vocab.cc ${_tok}/default_vocab_data.cc
  DEPS surge_base absl::status absl::statusor absl::strings absl::str_format
       absl::flat_hash_map absl::flat_hash_set PkgConfig::PCRE2)

surge_test(tokenizer_test
  SRCS ${_tok}/unicode_test.cc ${_tok}/pre_tokenizer_test.cc ${_tok}/tokenizer_test.cc
       ${_tok}/spm_tokenizer_test.cc ${_tok}/bpe_tokenizer_test.cc
       ${_tok}/streaming_decoder_test.cc ${_tok}/bpe_trainer_test.cc
       ${_tok}/default_vocab_test.cc
  DEPS surge_tokenizer TIMEOUT 60)

# Dev tool that retrains the default vocabularies (see data/README.md).
add_executable(surge_make_vocab ${_tok}/tools/make_vocab.cc)
target_compile_options(surge_make_vocab PRIVATE ${SURGE_WARNINGS})
target_link_libraries(surge_make_vocab PRIVATE surge_tokenizer)
