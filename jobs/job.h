// The values that describe a job: what was asked (JobSpec), how far it got
// (JobProgress), and everything known about it (JobInfo), with their JSON
// forms, which are what the HTTP API answers and what the job store writes.
//
// Model: a job moves queued -> running -> succeeded | failed | cancelled; a
// queued job may go straight to cancelled (or failed, when its kind is not
// available), and a running job goes back to queued only when a restart
// interrupted it and its kind can resume.
// Priority: 0..9, lower runs sooner (as for generation requests); on a
// server it also sets the job threads' nice value, so serving threads win
// the CPU whatever the priority.
//
// Thread safety: plain values.
// Errors: JobSpecFromJson() rejects a malformed spec with InvalidArgument
// naming the field; JobInfoFromJson() (the store's files) DataLoss.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "nlohmann/json.hpp"

namespace surge::jobs {

using Json = nlohmann::ordered_json;

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
const char* ToString(JobState state);
std::optional<JobState> JobStateFromName(std::string_view name);
inline bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled;
}

inline constexpr int kMinPriority = 0;
inline constexpr int kMaxPriority = 9;
inline constexpr int kDefaultPriority = 5;
inline constexpr int kMaxJobThreads = 256;

struct JobSpec {
  std::string kind;            // "train", "eval", "quantize", "deploy", ...
  Json args = Json::object();  // the kind's arguments (see its Validate())
  int threads = 1;             // compute budget: the threads the job may keep busy
  int priority = kDefaultPriority;
  std::string name;  // for people; "" : none
};

struct JobProgress {
  double fraction = 0;                    // of the whole job, 0..1
  double eta_seconds = -1;                // < 0: unknown
  std::map<std::string, double> figures;  // the kind's own: loss, tokens_per_second, ...
  std::string message;                    // what it is doing now
};

struct JobInfo {
  uint64_t seq = 0;  // submission order, unique per state dir
  std::string id;    // "job-<seq>"
  JobSpec spec;
  JobState state = JobState::kQueued;
  JobProgress progress;
  Json result;             // null until succeeded
  std::string error;       // why it failed or was cancelled
  int attempts = 0;        // times started (a resumed job runs again)
  int64_t created_at = 0;  // unix seconds
  int64_t started_at = 0;  // of the latest attempt; 0: never
  int64_t finished_at = 0;
};

Json ToJson(const JobSpec& spec);
Json ToJson(const JobProgress& progress);
Json ToJson(const JobInfo& info);

// A spec from a client: {"kind", "args"?, "threads"?, "priority"?, "name"?}.
// Unknown fields are rejected so a typo does not go unnoticed.
[[nodiscard]] absl::StatusOr<JobSpec> JobSpecFromJson(const Json& json);
// A job as ToJson(JobInfo) wrote it.
[[nodiscard]] absl::StatusOr<JobInfo> JobInfoFromJson(const Json& json);

// JSON text; invalid UTF-8 in strings (a path, a message) is replaced, never
// thrown about.
std::string DumpJson(const Json& json, int indent = -1);

// "job-<seq>".
std::string JobId(uint64_t seq);

}  // namespace surge::jobs
