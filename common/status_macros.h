// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Abseil 20220623 ships neither, so Valet keeps this one pair.
#ifndef VALET_COMMON_STATUS_MACROS_H_
#define VALET_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VALET_STATUS_CONCAT_INNER(a, b) a##b
#define VALET_STATUS_CONCAT(a, b) VALET_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status valet_status_ = (expr);         \
    if (!valet_status_.ok()) return valet_status_; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, MakeX()); declares/assigns `lhs` or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(VALET_STATUS_CONCAT(valet_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                          \
  if (!statusor.ok()) return statusor.status();    \
  lhs = std::move(statusor).value()

#endif  // VALET_COMMON_STATUS_MACROS_H_
