# Model: config, architecture registry, weight binding, loading.
set(_m ${CMAKE_CURRENT_SOURCE_DIR})
surge_library(surge_model
  SRCS ${_m}/model_config.cc ${_m}/weights.cc ${_m}/model.cc
  DEPS surge_base surge_kernels surge_gguf surge_model_files surge_tokenizer absl::strings)
