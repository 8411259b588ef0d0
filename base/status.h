// Status helpers. Surge code returns absl::Status / absl::StatusOr<T> and
// throws nothing; these macros keep the happy path readable.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SURGE_STATUS_CONCAT_INNER(a, b) a##b
#define SURGE_STATUS_CONCAT(a, b) SURGE_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define SURGE_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status surge_status_ = (expr);         \
    if (!surge_status_.ok()) return surge_status_; \
  } while (0)

// `SURGE_ASSIGN_OR_RETURN(auto x, Foo());` binds the value of a StatusOr or
// returns its error from the enclosing function.
#define SURGE_ASSIGN_OR_RETURN(lhs, expr) \
  SURGE_ASSIGN_OR_RETURN_IMPL(SURGE_STATUS_CONCAT(surge_statusor_, __LINE__), lhs, expr)
#define SURGE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()
