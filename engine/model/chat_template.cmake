# Chat templates: surge_chat_template (family detection and rendering, no
# Jinja). Depends only on surge_base and absl. Paths are relative to this file.
set(_chat ${CMAKE_CURRENT_LIST_DIR})
surge_library(surge_chat_template
  SRCS ${_chat}/chat_template.cc
  DEPS surge_base absl::status absl::statusor absl::strings)
surge_test(chat_template_test SRCS ${_chat}/chat_template_test.cc DEPS surge_chat_template
  TIMEOUT 60)
