surge_fuzzer(tokenizer_fuzzer SRCS ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_fuzzer.cc
  DEPS surge_tokenizer CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/tokenizer)
