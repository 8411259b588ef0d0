# Helpers that keep each folder's CMakeLists.txt a few lines long.
#
#   surge_library(NAME SRCS a.cc b.cc DEPS lib1 lib2 [COPTS -mavx2 ...])
#   surge_test(NAME SRCS a_test.cc DEPS lib1 [LABELS slow])
#   surge_benchmark(NAME SRCS a_benchmark.cc DEPS lib1)
#   surge_fuzzer(NAME SRCS a_fuzzer.cc DEPS lib1)

set(SURGE_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wno-missing-field-initializers)
if(SURGE_WERROR)
  list(APPEND SURGE_WARNINGS -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 at -O3 reports impossible memcpy overlaps inside std::string's
  # operator+ (GCC bug 105329); keep the warning, not the build failure.
  list(APPEND SURGE_WARNINGS -Wno-error=restrict)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND SURGE_WARNINGS -Wthread-safety -Wno-gnu-zero-variadic-macro-arguments)
endif()

if(SURGE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Sanitizer builds compile at -O1 where tests compute (the engine, training,
# the scheduler) and at -O0 elsewhere: the server, router and job code is
# template-heavy (Beast, JSON), -O0 compiles it about 35% faster under ASan,
# and its tests wait on sockets, not arithmetic.
function(surge_sanitizer_opt name)
  file(RELATIVE_PATH dir ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  if(SURGE_SANITIZE AND NOT dir MATCHES "^(engine|jobs/train|scheduler)(/|$)")
    target_compile_options(${name} PRIVATE -O0)
  endif()
endfunction()

# In fuzz builds every library gets coverage instrumentation, or libFuzzer
# would see only the fuzz target's own file.
if(SURGE_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# With SURGE_UNITY (CI builds: see the Makefile), a library's or tool's
# sources compile in batches of 8 per translation unit, so the Beast, Asio
# and JSON headers most files include are parsed once per batch. Not for
# the kernels and the training math, whose files carry their own ISA and
# floating-point flags. Names at namespace scope, anonymous ones included,
# must therefore be unique within a library.
function(surge_unity name)
  file(RELATIVE_PATH dir ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  if(SURGE_UNITY AND NOT dir MATCHES "^(engine/kernels|jobs/train)(/|$)")
    set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  endif()
endfunction()

function(surge_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;COPTS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SURGE_WARNINGS} ${ARG_COPTS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  surge_sanitizer_opt(${name})
  surge_unity(${name})
endfunction()

function(surge_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${SURGE_WARNINGS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  surge_sanitizer_opt(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "SURGE_BINARY=$<TARGET_FILE:surge>;SURGE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

function(surge_benchmark name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${SURGE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
endfunction()

# Fuzz targets build only with clang and SURGE_FUZZ=ON; each also gets a
# regression test that replays its checked-in corpus through the target.
function(surge_fuzzer name)
  cmake_parse_arguments(ARG "" "CORPUS" "SRCS;DEPS" ${ARGN})
  if(SURGE_FUZZ)
    add_executable(${name} ${ARG_SRCS})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  else()
    # Replay driver: runs every file of the corpus once through the target.
    add_executable(${name}_replay ${ARG_SRCS} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    target_compile_options(${name}_replay PRIVATE ${SURGE_WARNINGS})
    target_link_libraries(${name}_replay PRIVATE ${ARG_DEPS})
    if(ARG_CORPUS)
      add_test(NAME ${name}_replay COMMAND ${name}_replay ${ARG_CORPUS})
      set_tests_properties(${name}_replay PROPERTIES TIMEOUT 300)
    endif()
  endif()
endfunction()
