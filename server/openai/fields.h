// FieldReader reads the typed, range-checked fields of one JSON object of a
// request (internal to server/openai). Each read names the field; the first
// failure is kept as an InvalidArgument status whose param payload is the
// field's full path ("stream_options.include_usage", "messages[2].content")
// and whose message says what was expected and what came.
//
// Model: absent and null fields leave the output untouched (OpenAI clients
// send null for "not given"). Integers must be whole numbers within the range
// (2.0 is accepted as 2, 2.5 is not); floats must lie within their range.
// Thread safety: one reader per parse; not shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "server/openai/json_util.h"

namespace surge::server::openai {

// Errors with the param payload and OpenAI-style codes.
absl::Status TypeError(std::string_view param, std::string_view expected, const JsonIn& got);
absl::Status ValueError(std::string_view param, std::string_view message);
absl::Status MissingError(std::string_view param);
absl::Status UnsupportedError(std::string_view param, std::string_view message);

// The param in single quotes, as error messages name it.
std::string Quoted(std::string_view param);

// A JSON number as an int64 when it is a whole number in int64's range.
enum class IntCheck { kOk, kNotNumber, kNotWhole, kOutOfRange };
IntCheck ToInt64(const JsonIn& value, int64_t* out);

class FieldReader {
 public:
  // `prefix` is prepended to field names in params ("stream_options.").
  explicit FieldReader(const JsonIn& object, std::string prefix = "");

  // The field's value when present and not null.
  const JsonIn* Find(std::string_view key) const;
  std::string Param(std::string_view key) const;

  void Int(std::string_view key, int64_t lo, int64_t hi, int32_t* out);
  void Int(std::string_view key, int64_t lo, int64_t hi, std::optional<int32_t>* out);
  void Int(std::string_view key, int64_t lo, int64_t hi, std::optional<int64_t>* out);
  // [lo, hi], or (lo, hi] when lo_open.
  void Float(std::string_view key, double lo, double hi, float* out, bool lo_open = false);
  void Bool(std::string_view key, bool* out);
  void String(std::string_view key, std::string* out);

  // Keeps the first failure.
  void Fail(absl::Status status);
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  std::optional<int64_t> ReadInt(std::string_view key, int64_t lo, int64_t hi);

  const JsonIn& object_;
  std::string prefix_;
  absl::Status status_;
};

}  // namespace surge::server::openai
