#include "server/openai/errors.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace surge::server::openai {
namespace {

using nlohmann::json;

TEST(ErrorsTest, TableMapsStatusCodes) {
  struct Case {
    absl::Status status;
    int http;
    const char* type;
    const char* code;
    std::optional<int> retry_after;
  };
  const Case cases[] = {
      {absl::InvalidArgumentError("bad"), 400, "invalid_request_error", "", std::nullopt},
      {absl::OutOfRangeError("prompt is 5000 tokens; the context is 4096"), 400,
       "invalid_request_error", "context_length_exceeded", std::nullopt},
      {absl::UnauthenticatedError("no key"), 401, "authentication_error", "invalid_api_key",
       std::nullopt},
      {absl::PermissionDeniedError("no"), 403, "permission_error", "permission_denied",
       std::nullopt},
      {absl::NotFoundError("model 'x' not found"), 404, "invalid_request_error", "model_not_found",
       std::nullopt},
      {absl::FailedPreconditionError("x"), 422, "invalid_request_error", "unprocessable_request",
       std::nullopt},
      {absl::ResourceExhaustedError("queue full"), 429, "rate_limit_error", "rate_limit_exceeded",
       1},
      {absl::UnavailableError("draining"), 503, "server_error", "server_overloaded", 1},
      {absl::DeadlineExceededError("slow"), 504, "server_error", "timeout", std::nullopt},
      {absl::InternalError("bug"), 500, "server_error", "internal_error", std::nullopt},
      {absl::UnknownError("?"), 500, "server_error", "internal_error", std::nullopt},
      {absl::DataLossError("?"), 500, "server_error", "internal_error", std::nullopt},
  };
  for (const Case& c : cases) {
    const ApiError e = ApiErrorFromStatus(c.status);
    EXPECT_EQ(e.http_status, c.http) << c.status;
    EXPECT_EQ(e.type, c.type) << c.status;
    EXPECT_EQ(e.code, c.code) << c.status;
    EXPECT_EQ(e.retry_after_seconds, c.retry_after) << c.status;
    EXPECT_EQ(e.message, c.status.message());
    EXPECT_FALSE(e.param.has_value());
  }
}

TEST(ErrorsTest, PayloadsOverrideTheTable) {
  absl::Status s = absl::ResourceExhaustedError("the queue is full");
  s = WithRetryAfter(WithErrorCode(std::move(s), "queue_full"), 7);
  ApiError e = ApiErrorFromStatus(s);
  EXPECT_EQ(e.http_status, 429);
  EXPECT_EQ(e.code, "queue_full");
  EXPECT_EQ(e.retry_after_seconds, 7);

  e = ApiErrorFromStatus(WithErrorCode(absl::UnavailableError("shutting down"), "draining"));
  EXPECT_EQ(e.http_status, 503);
  EXPECT_EQ(e.code, "draining");

  e = ApiErrorFromStatus(WithParam(absl::InvalidArgumentError("bad n"), "n"));
  EXPECT_EQ(e.param, "n");
  EXPECT_TRUE(WithParam(absl::OkStatus(), "n").ok());
}

TEST(ErrorsTest, BodyShape) {
  ApiError e = ApiErrorFromStatus(WithParam(absl::InvalidArgumentError("'n' too big"), "n"));
  EXPECT_EQ(json::parse(ErrorBody(e)), json::parse(R"({"error":{"message":"'n' too big",
      "type":"invalid_request_error","param":"n","code":null}})"));
  e = ApiErrorFromStatus(absl::NotFoundError("model 'gpt-9' not found"));
  EXPECT_EQ(json::parse(ErrorBody(e)), json::parse(R"({"error":{"message":
      "model 'gpt-9' not found","type":"invalid_request_error","param":null,
      "code":"model_not_found"}})"));
  // Messages that carry user bytes stay valid JSON.
  e.message = "bad \xFF";
  EXPECT_FALSE(json::parse(ErrorBody(e), nullptr, false).is_discarded());
}

TEST(ErrorsTest, OkAndEmptyMessagesStillReadWell) {
  ApiError e = ApiErrorFromStatus(absl::OkStatus());
  EXPECT_EQ(e.http_status, 500);
  EXPECT_FALSE(e.message.empty());
  e = ApiErrorFromStatus(absl::Status(absl::StatusCode::kUnavailable, ""));
  EXPECT_EQ(e.message, "UNAVAILABLE");
}

TEST(ErrorsTest, HttpLayerStatuses) {
  ApiError e = ApiErrorForHttpStatus(413, "the body is over 1 MiB");
  EXPECT_EQ(e.http_status, 413);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.code, "request_too_large");
  EXPECT_EQ(ApiErrorForHttpStatus(431, "x").code, "request_header_fields_too_large");
  EXPECT_EQ(ApiErrorForHttpStatus(404, "no route").code, "not_found");
  EXPECT_EQ(ApiErrorForHttpStatus(503, "draining").code, "server_overloaded");
  EXPECT_EQ(ApiErrorForHttpStatus(429, "slow down").retry_after_seconds, 1);
  e = ApiErrorForHttpStatus(418, "teapot");
  EXPECT_EQ(e.http_status, 418);
  EXPECT_EQ(e.type, "invalid_request_error");
}

TEST(ErrorsTest, StatusForFinish) {
  EXPECT_TRUE(StatusForFinish(FinishReason::kStop, "").ok());
  EXPECT_TRUE(StatusForFinish(FinishReason::kLength, "").ok());
  ApiError e = ApiErrorFromStatus(StatusForFinish(FinishReason::kExpired, ""));
  EXPECT_EQ(e.http_status, 503);
  EXPECT_EQ(e.code, "queue_timeout");
  EXPECT_EQ(e.retry_after_seconds, 1);
  e = ApiErrorFromStatus(StatusForFinish(FinishReason::kError, "kernel failed"));
  EXPECT_EQ(e.http_status, 500);
  EXPECT_EQ(e.message, "generation failed: kernel failed");
  EXPECT_EQ(ApiErrorFromStatus(StatusForFinish(FinishReason::kCancelled, "")).http_status, 499);
}

}  // namespace
}  // namespace surge::server::openai
