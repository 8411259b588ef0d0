# GGUF read/write (surge_gguf) and the model files built on it (surge_model_files:
# vocabulary <-> metadata, random-initialised models, quantization).
set(_g ${CMAKE_CURRENT_SOURCE_DIR})
surge_library(surge_gguf
  SRCS ${_g}/gguf_types.cc ${_g}/gguf_reader.cc ${_g}/gguf_writer.cc
  DEPS surge_base surge_kernels absl::flat_hash_map absl::strings absl::str_format)
surge_library(surge_model_files
  SRCS ${_g}/vocab_gguf.cc ${_g}/model_init.cc ${_g}/quantize_model.cc
  DEPS surge_base surge_gguf surge_kernels surge_tokenizer absl::strings)

surge_test(gguf_test SRCS ${_g}/gguf_test.cc DEPS surge_gguf)
surge_test(gguf_corrupt_test SRCS ${_g}/gguf_corrupt_test.cc DEPS surge_gguf)
surge_test(model_files_test
  SRCS ${_g}/vocab_gguf_test.cc ${_g}/model_init_test.cc ${_g}/quantize_model_test.cc
  DEPS surge_model_files)
