// When to crash (the rule): SURGE_CHECK guards invariants whose breach means a
// bug or corrupted state (a block released twice, an index past a table we
// built). It is always on. SURGE_DCHECK is for costly checks and only runs in
// debug builds. Never CHECK anything a user controls (requests, files, flags):
// those get an absl::Status with a message the user can act on.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace surge::base {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const char* msg);
}  // namespace surge::base

#define SURGE_CHECK(cond)                                             \
  do {                                                                \
    if (__builtin_expect(!(cond), 0))                                 \
      ::surge::base::CheckFailed(__FILE__, __LINE__, #cond, nullptr); \
  } while (0)

#define SURGE_CHECK_MSG(cond, msg)                                  \
  do {                                                              \
    if (__builtin_expect(!(cond), 0))                               \
      ::surge::base::CheckFailed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)

#ifdef NDEBUG
#define SURGE_DCHECK(cond) \
  do {                     \
  } while (false && (cond))
#else
#define SURGE_DCHECK(cond) SURGE_CHECK(cond)
#endif
