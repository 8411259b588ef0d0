#include "server/openai/fields.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/openai/errors.h"

namespace surge::server::openai {
namespace {

absl::Status WithDetails(std::string message, std::string_view param, std::string_view code) {
  return WithErrorCode(WithParam(absl::InvalidArgumentError(message), param), code);
}

// The number as written in an error message.
std::string NumberText(const JsonIn& v) {
  if (v.is_number_unsigned()) return absl::StrCat(v.get<uint64_t>());
  if (v.is_number_integer()) return absl::StrCat(v.get<int64_t>());
  return absl::StrCat(v.get<double>());
}

}  // namespace

std::string Quoted(std::string_view param) { return absl::StrCat("'", std::string(param), "'"); }

absl::Status TypeError(std::string_view param, std::string_view expected, const JsonIn& got) {
  return WithDetails(absl::StrCat(Quoted(param), " must be ", std::string(expected), ", not ",
                                  std::string(JsonTypeName(got))),
                     param, "invalid_type");
}

absl::Status ValueError(std::string_view param, std::string_view message) {
  return WithDetails(std::string(message), param, "invalid_value");
}

absl::Status MissingError(std::string_view param) {
  return WithDetails(absl::StrCat(Quoted(param), " is required"), param,
                     "missing_required_parameter");
}

absl::Status UnsupportedError(std::string_view param, std::string_view message) {
  return WithDetails(std::string(message), param, "unsupported_value");
}

IntCheck ToInt64(const JsonIn& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return IntCheck::kOutOfRange;
    }
    *out = static_cast<int64_t>(u);
    return IntCheck::kOk;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return IntCheck::kOk;
  }
  if (!v.is_number_float()) return IntCheck::kNotNumber;
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::trunc(d) != d) return IntCheck::kNotWhole;
  // 2^63 is exact as a double; anything at or past it does not fit.
  if (d >= 9223372036854775808.0 || d < -9223372036854775808.0) return IntCheck::kOutOfRange;
  *out = static_cast<int64_t>(d);
  return IntCheck::kOk;
}

FieldReader::FieldReader(const JsonIn& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

const JsonIn* FieldReader::Find(std::string_view key) const {
  if (!object_.is_object()) return nullptr;
  const auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string FieldReader::Param(std::string_view key) const {
  return absl::StrCat(prefix_, std::string(key));
}

void FieldReader::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
}

std::optional<int64_t> FieldReader::ReadInt(std::string_view key, int64_t lo, int64_t hi) {
  const JsonIn* v = ok() ? Find(key) : nullptr;
  if (v == nullptr) return std::nullopt;
  const std::string param = Param(key);
  int64_t value = 0;
  const IntCheck check = ToInt64(*v, &value);
  if (check == IntCheck::kNotNumber) {
    Fail(TypeError(param, "an integer", *v));
    return std::nullopt;
  }
  if (check == IntCheck::kNotWhole) {
    Fail(ValueError(param,
                    absl::StrCat(Quoted(param), " must be a whole number; got ", NumberText(*v))));
    return std::nullopt;
  }
  if (check == IntCheck::kOutOfRange || value < lo || value > hi) {
    Fail(ValueError(param, absl::StrCat(Quoted(param), " must be an integer between ", lo, " and ",
                                        hi, "; got ", NumberText(*v))));
    return std::nullopt;
  }
  return value;
}

void FieldReader::Int(std::string_view key, int64_t lo, int64_t hi, int32_t* out) {
  if (std::optional<int64_t> v = ReadInt(key, lo, hi)) *out = static_cast<int32_t>(*v);
}

void FieldReader::Int(std::string_view key, int64_t lo, int64_t hi, std::optional<int32_t>* out) {
  if (std::optional<int64_t> v = ReadInt(key, lo, hi)) *out = static_cast<int32_t>(*v);
}

void FieldReader::Int(std::string_view key, int64_t lo, int64_t hi, std::optional<int64_t>* out) {
  if (std::optional<int64_t> v = ReadInt(key, lo, hi)) *out = *v;
}

void FieldReader::Float(std::string_view key, double lo, double hi, float* out, bool lo_open) {
  const JsonIn* v = ok() ? Find(key) : nullptr;
  if (v == nullptr) return;
  const std::string param = Param(key);
  if (!v->is_number()) return Fail(TypeError(param, "a number", *v));
  const double d = v->get<double>();
  const bool low_ok = lo_open ? d > lo : d >= lo;
  if (std::isfinite(d) && low_ok && d <= hi) {
    *out = static_cast<float>(d);
    return;
  }
  // An upper bound of "anything a float holds" is not worth naming.
  const bool unbounded = hi >= std::numeric_limits<float>::max();
  std::string range;
  if (unbounded && d > hi) {
    range = "a smaller number";
  } else if (unbounded) {
    range = absl::StrCat(lo_open ? "greater than " : "at least ", lo);
  } else if (lo_open) {
    range = absl::StrCat("greater than ", lo, " and at most ", hi);
  } else {
    range = absl::StrCat("between ", lo, " and ", hi);
  }
  Fail(
      ValueError(param, absl::StrCat(Quoted(param), " must be ", range, "; got ", NumberText(*v))));
}

void FieldReader::Bool(std::string_view key, bool* out) {
  const JsonIn* v = ok() ? Find(key) : nullptr;
  if (v == nullptr) return;
  if (!v->is_boolean()) return Fail(TypeError(Param(key), "a boolean", *v));
  *out = v->get<bool>();
}

void FieldReader::String(std::string_view key, std::string* out) {
  const JsonIn* v = ok() ? Find(key) : nullptr;
  if (v == nullptr) return;
  if (!v->is_string()) return Fail(TypeError(Param(key), "a string", *v));
  *out = v->get<std::string>();
}

}  // namespace surge::server::openai
