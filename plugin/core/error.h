// Errors as values at module edges. A fallible call returns Result<T>; the error carries a
// stable code (mapped to an HTTP status in one place, http_reply.h) and a short message that
// is safe to show and to log (never a secret or a payload).
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace afterglow {

enum class ErrorCode {
  kInvalidArgument,   // malformed input: 400
  kUnauthenticated,   // missing or bad signature/token: 401
  kForbidden,         // authenticated but not allowed: 403
  kNotFound,          // 404
  kConflict,          // a uniqueness rule or a state transition refused: 409
  kPayloadTooLarge,   // 413
  kUnavailable,       // a dependency (database, provider) is down; retry later: 503
  kInternal,          // a bug or an unexpected state: 500
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// Stable snake_case name of a code, used in JSON errors and logs.
const char* error_code_name(ErrorCode code);

}  // namespace afterglow

// AG_TRY(expr): evaluates a Result<T>; on error returns it from the enclosing function,
// otherwise yields the value. AG_CHECK(expr) does the same for Result<void>.
#define AG_TRY(expr)                                                  \
  ({                                                                  \
    auto&& ag_try_result_ = (expr);                                   \
    if (!ag_try_result_) return std::unexpected(ag_try_result_.error()); \
    std::move(*ag_try_result_);                                       \
  })
#define AG_CHECK(expr)                                                \
  do {                                                                \
    auto&& ag_check_result_ = (expr);                                 \
    if (!ag_check_result_) return std::unexpected(ag_check_result_.error()); \
  } while (0)
