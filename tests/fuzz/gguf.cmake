surge_fuzzer(gguf_fuzzer SRCS ${CMAKE_CURRENT_SOURCE_DIR}/gguf_fuzzer.cc DEPS surge_gguf
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/gguf)
