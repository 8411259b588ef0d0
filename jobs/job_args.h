// ArgReader reads a job's arguments (a JSON object) into typed values for a
// kind's Validate() and Run(). It is lenient about how a value is spelled
// (the CLI sends every flag as a string, so "50" is read as the integer 50
// and "true" as true) and strict about everything else: a value of the
// wrong type or out of range, or an argument the kind does not know, is an
// error naming it.
//
// Use: read every argument (each getter returns std::nullopt when it is
// absent or wrong), then Finish() for the first error, or for the first
// argument nobody asked about.
// Thread safety: one reader per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jobs/job.h"

namespace surge::jobs {

class ArgReader {
 public:
  ArgReader(const Json& args, std::string kind);

  std::optional<std::string> String(std::string_view key);
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max);
  std::optional<double> Number(std::string_view key, double min, double max);
  std::optional<bool> Bool(std::string_view key);
  // A JSON array of strings, or one comma-separated string.
  std::optional<std::vector<std::string>> List(std::string_view key);

  // An argument that must be given: records an error when it is absent.
  std::string RequiredString(std::string_view key);
  // A path that must name an existing regular file.
  std::optional<std::string> ExistingFile(std::string_view key, bool required);

  // OK, or the first error: a bad value, a missing argument, or an unknown
  // one (listing the known).
  [[nodiscard]] absl::Status Finish() const;

 private:
  const Json* Find(std::string_view key);
  void Fail(std::string_view key, std::string_view why);

  const Json& args_;
  const std::string kind_;
  std::set<std::string> asked_;
  absl::Status error_;
};

}  // namespace surge::jobs
