#include "jobs/job_args.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace surge::jobs {

ArgReader::ArgReader(const Json& args, std::string kind) : args_(args), kind_(std::move(kind)) {
  if (!args_.is_object()) {
    error_ = absl::InvalidArgumentError(absl::StrCat(kind_, " job: args must be a JSON object"));
  }
}

const Json* ArgReader::Find(std::string_view key) {
  asked_.insert(std::string(key));
  if (!args_.is_object()) return nullptr;
  auto it = args_.find(std::string(key));
  if (it == args_.end() || it->is_null()) return nullptr;
  return &*it;
}

void ArgReader::Fail(std::string_view key, std::string_view why) {
  if (!error_.ok()) return;
  error_ = absl::InvalidArgumentError(
      absl::StrCat(kind_, " job: argument '", std::string(key), "' ", std::string(why)));
}

std::optional<std::string> ArgReader::String(std::string_view key) {
  const Json* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    Fail(key, "must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<int64_t> ArgReader::Int(std::string_view key, int64_t min, int64_t max) {
  const Json* v = Find(key);
  if (v == nullptr) return std::nullopt;
  int64_t out = 0;
  bool ok = false;
  if (v->is_number_integer()) {
    out = v->get<int64_t>();
    ok = true;
  } else if (v->is_string()) {
    const std::string s = v->get<std::string>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    ok = ec == std::errc() && end == s.data() + s.size() && !s.empty();
  }
  if (!ok) {
    Fail(key, "must be an integer");
    return std::nullopt;
  }
  if (out < min || out > max) {
    Fail(key, absl::StrCat("must be in [", min, ", ", max, "], not ", out));
    return std::nullopt;
  }
  return out;
}

std::optional<double> ArgReader::Number(std::string_view key, double min, double max) {
  const Json* v = Find(key);
  if (v == nullptr) return std::nullopt;
  double out = 0;
  bool ok = false;
  if (v->is_number()) {
    out = v->get<double>();
    ok = true;
  } else if (v->is_string()) {
    const std::string s = v->get<std::string>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    ok = ec == std::errc() && end == s.data() + s.size() && !s.empty();
  }
  if (!ok || !std::isfinite(out)) {
    Fail(key, "must be a number");
    return std::nullopt;
  }
  if (out < min || out > max) {
    Fail(key, absl::StrCat("must be in [", min, ", ", max, "], not ", out));
    return std::nullopt;
  }
  return out;
}

std::optional<bool> ArgReader::Bool(std::string_view key) {
  const Json* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string() && (*v == "true" || *v == "false")) return *v == "true";
  Fail(key, "must be true or false");
  return std::nullopt;
}

std::optional<std::vector<std::string>> ArgReader::List(std::string_view key) {
  const Json* v = Find(key);
  if (v == nullptr) return std::nullopt;
  std::vector<std::string> out;
  if (v->is_string()) {
    for (absl::string_view part : absl::StrSplit(v->get<std::string>(), ',', absl::SkipEmpty())) {
      out.emplace_back(absl::StripAsciiWhitespace(part));
    }
    return out;
  }
  if (v->is_array()) {
    for (const Json& item : *v) {
      if (!item.is_string()) {
        Fail(key, "must be a list of strings");
        return std::nullopt;
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  Fail(key, "must be a list of strings (or one comma-separated string)");
  return std::nullopt;
}

std::string ArgReader::RequiredString(std::string_view key) {
  std::optional<std::string> v = String(key);
  if (!v && error_.ok()) Fail(key, "is required");
  if (v && v->empty()) Fail(key, "must not be empty");
  return v.value_or("");
}

std::optional<std::string> ArgReader::ExistingFile(std::string_view key, bool required) {
  std::optional<std::string> path = required ? std::optional(RequiredString(key)) : String(key);
  if (!path || path->empty()) return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*path, ec)) {
    Fail(key, absl::StrCat("names no readable file: ", *path));
    return std::nullopt;
  }
  return path;
}

absl::Status ArgReader::Finish() const {
  if (!error_.ok()) return error_;
  for (const auto& [key, value] : args_.items()) {
    if (!asked_.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind_, " job: unknown argument '", key, "' (known: ", absl::StrJoin(asked_, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace surge::jobs
