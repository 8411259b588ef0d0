#include "server/openai/errors.h"

#include <charconv>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "server/openai/json_util.h"

namespace surge::server::openai {
namespace {

constexpr char kParamUrl[] = "surge.openai/param";
constexpr char kCodeUrl[] = "surge.openai/code";
constexpr char kRetryAfterUrl[] = "surge.openai/retry_after";

struct Row {
  std::optional<absl::StatusCode> status;  // unset: produced by the HTTP layer only
  int http_status;
  const char* type;
  const char* code;
  int retry_after;  // 0: no Retry-After
};

// The one table: absl status code -> HTTP status and OpenAI error shape.
// Lookups take the first matching row; the Internal row is the fallback.
constexpr Row kTable[] = {
    {absl::StatusCode::kInvalidArgument, 400, "invalid_request_error", "", 0},
    {absl::StatusCode::kOutOfRange, 400, "invalid_request_error", "context_length_exceeded", 0},
    {absl::StatusCode::kUnauthenticated, 401, "authentication_error", "invalid_api_key", 0},
    {absl::StatusCode::kPermissionDenied, 403, "permission_error", "permission_denied", 0},
    {absl::StatusCode::kNotFound, 404, "invalid_request_error", "model_not_found", 0},
    {absl::StatusCode::kAlreadyExists, 409, "invalid_request_error", "conflict", 0},
    {absl::StatusCode::kAborted, 409, "invalid_request_error", "conflict", 0},
    {absl::StatusCode::kFailedPrecondition, 422, "invalid_request_error", "unprocessable_request",
     0},
    {absl::StatusCode::kResourceExhausted, 429, "rate_limit_error", "rate_limit_exceeded", 1},
    {absl::StatusCode::kCancelled, 499, "invalid_request_error", "request_cancelled", 0},
    {absl::StatusCode::kUnimplemented, 501, "server_error", "not_implemented", 0},
    {absl::StatusCode::kUnavailable, 503, "server_error", "server_overloaded", 1},
    {absl::StatusCode::kDeadlineExceeded, 504, "server_error", "timeout", 0},
    {absl::StatusCode::kInternal, 500, "server_error", "internal_error", 0},
    {std::nullopt, 404, "invalid_request_error", "not_found", 0},
    {std::nullopt, 405, "invalid_request_error", "method_not_allowed", 0},
    {std::nullopt, 408, "invalid_request_error", "request_timeout", 0},
    {std::nullopt, 413, "invalid_request_error", "request_too_large", 0},
    {std::nullopt, 431, "invalid_request_error", "request_header_fields_too_large", 0},
};

const Row& InternalRow() {
  for (const Row& r : kTable) {
    if (r.status == absl::StatusCode::kInternal) return r;
  }
  return kTable[0];  // unreachable: the table has an Internal row
}

const Row& RowForStatus(absl::StatusCode code) {
  for (const Row& r : kTable) {
    if (r.status == code) return r;
  }
  return InternalRow();
}

ApiError FromRow(const Row& row, std::string message) {
  ApiError e;
  e.http_status = row.http_status;
  e.type = row.type;
  e.code = row.code;
  e.message = std::move(message);
  if (row.retry_after > 0) e.retry_after_seconds = row.retry_after;
  return e;
}

absl::Status WithPayload(absl::Status status, const char* url, std::string_view value) {
  if (!status.ok()) status.SetPayload(url, absl::Cord(std::string(value)));
  return status;
}

std::optional<std::string> Payload(const absl::Status& status, const char* url) {
  const auto p = status.GetPayload(url);  // absl::optional: not std:: in this build
  if (!p) return std::nullopt;
  return std::string(*p);
}

}  // namespace

absl::Status WithParam(absl::Status status, std::string_view param) {
  return WithPayload(std::move(status), kParamUrl, param);
}

absl::Status WithErrorCode(absl::Status status, std::string_view code) {
  return WithPayload(std::move(status), kCodeUrl, code);
}

absl::Status WithRetryAfter(absl::Status status, int seconds) {
  return WithPayload(std::move(status), kRetryAfterUrl, std::to_string(seconds));
}

ApiError ApiErrorFromStatus(const absl::Status& status) {
  if (status.ok()) {
    return FromRow(InternalRow(), "internal error: a successful status was reported as an error");
  }
  std::string message(status.message());
  if (message.empty()) message = absl::StatusCodeToString(status.code());
  ApiError e = FromRow(RowForStatus(status.code()), std::move(message));
  e.param = Payload(status, kParamUrl);
  if (std::optional<std::string> code = Payload(status, kCodeUrl)) e.code = *code;
  if (std::optional<std::string> retry = Payload(status, kRetryAfterUrl)) {
    int seconds = 0;
    const char* end = retry->data() + retry->size();
    if (std::from_chars(retry->data(), end, seconds).ptr == end && seconds >= 0) {
      e.retry_after_seconds = seconds;
    }
  }
  return e;
}

ApiError ApiErrorForHttpStatus(int http_status, std::string message) {
  // Rows of the HTTP layer's own statuses first (404 there is "no such
  // route", not the NotFound row's "model_not_found").
  for (bool http_only : {true, false}) {
    for (const Row& r : kTable) {
      if (r.http_status == http_status && r.status.has_value() != http_only) {
        return FromRow(r, std::move(message));
      }
    }
  }
  ApiError e = FromRow(InternalRow(), std::move(message));
  e.http_status = http_status;
  if (http_status >= 400 && http_status < 500) {
    e.type = "invalid_request_error";
    e.code = "";
  }
  return e;
}

std::string ErrorBody(const ApiError& error) {
  Json body = Json::object();
  Json& inner = body["error"];
  inner["message"] = error.message.empty() ? "unknown error" : error.message;
  inner["type"] = error.type;
  inner["param"] = error.param ? Json(*error.param) : Json(nullptr);
  inner["code"] = error.code.empty() ? Json(nullptr) : Json(error.code);
  return DumpJson(body);
}

absl::Status StatusForFinish(FinishReason reason, std::string_view detail) {
  const std::string d(detail);
  switch (reason) {
    case FinishReason::kStop:
    case FinishReason::kLength:
      return absl::OkStatus();
    case FinishReason::kExpired:
      return WithErrorCode(
          absl::UnavailableError(absl::StrCat("the request waited in the queue past its deadline",
                                              d.empty() ? "" : ": ", d, "; retry later")),
          "queue_timeout");
    case FinishReason::kCancelled:
      return absl::CancelledError(
          absl::StrCat("the request was cancelled", d.empty() ? "" : ": ", d));
    case FinishReason::kError:
      break;
  }
  return absl::InternalError(absl::StrCat("generation failed", d.empty() ? "" : ": ", d));
}

}  // namespace surge::server::openai
