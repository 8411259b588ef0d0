surge_fuzzer(openai_request_fuzzer SRCS ${CMAKE_CURRENT_SOURCE_DIR}/openai_request_fuzzer.cc
  DEPS surge_openai surge_chat_template CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/openai)
if(SURGE_FUZZ)
  # surge_fuzzer() instruments only the fuzzer's own file; without this the
  # code under test would give libFuzzer no coverage to steer by.
  foreach(lib surge_openai surge_chat_template)
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  endforeach()
endif()
