// Errors in OpenAI's shape. Everything that can fail inside Surge returns an
// absl::Status; this file is the one table that turns a Status into an HTTP
// status, an OpenAI error type and code, and the body
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}.
//
// Details the table cannot know travel as Status payloads, set by whoever
// knows them: WithParam() (the request field at fault, set by the parsers),
// WithErrorCode() (e.g. "queue_full" on a ResourceExhausted, "draining" on an
// Unavailable) and WithRetryAfter() (seconds for the Retry-After header).
//
// The table (absl code -> HTTP status, type, default code):
//   InvalidArgument    400 invalid_request_error  (parsers set their own code)
//   OutOfRange         400 invalid_request_error  context_length_exceeded
//   Unauthenticated    401 authentication_error   invalid_api_key
//   PermissionDenied   403 permission_error       permission_denied
//   NotFound           404 invalid_request_error  model_not_found
//   AlreadyExists      409 invalid_request_error  conflict
//   Aborted            409 invalid_request_error  conflict
//   FailedPrecondition 422 invalid_request_error  unprocessable_request
//   ResourceExhausted  429 rate_limit_error       rate_limit_exceeded  (Retry-After 1)
//   Cancelled          499 invalid_request_error  request_cancelled
//   Unimplemented      501 server_error           not_implemented
//   Unavailable        503 server_error           server_overloaded    (Retry-After 1)
//   DeadlineExceeded   504 server_error           timeout
//   Internal, Unknown, DataLoss, anything else     500 server_error internal_error
// plus rows for statuses only the HTTP layer produces (404 not_found for an
// unknown route, 405, 408, 413, 431), reachable through ApiErrorForHttpStatus().
//
// Thread safety: stateless functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "server/openai/protocol.h"

namespace surge::server::openai {

struct ApiError {
  int http_status = 500;
  std::string type;                        // OpenAI error type, e.g. "invalid_request_error"
  std::string message;                     // for the user; never empty
  std::optional<std::string> param;        // the field at fault, e.g. "messages[2].content"
  std::string code;                        // e.g. "invalid_value"; "" is written as null
  std::optional<int> retry_after_seconds;  // send a Retry-After header when set
};

// Attach details to a (non-OK) status; OK statuses are returned unchanged.
[[nodiscard]] absl::Status WithParam(absl::Status status, std::string_view param);
[[nodiscard]] absl::Status WithErrorCode(absl::Status status, std::string_view code);
[[nodiscard]] absl::Status WithRetryAfter(absl::Status status, int seconds);

// The table above applied to `status`, payloads included. An OK status is a
// caller bug; it maps to 500 rather than crashing the server.
ApiError ApiErrorFromStatus(const absl::Status& status);

// An error the HTTP layer raises itself (404 unknown route, 405, 408, 413,
// 431, ...): type and code from the table's row for that HTTP status.
ApiError ApiErrorForHttpStatus(int http_status, std::string message);

// {"error":{"message","type","param","code"}} as compact JSON.
std::string ErrorBody(const ApiError& error);

// The status a request should fail with when a choice ended this way
// before the response started: OK for stop and length; Unavailable
// ("queue_timeout") for expired; Cancelled for cancelled; Internal for error.
// `detail` (the engine's message) goes into the message.
absl::Status StatusForFinish(FinishReason reason, std::string_view detail);

}  // namespace surge::server::openai
