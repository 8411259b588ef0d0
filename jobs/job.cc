#include "jobs/job.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"

namespace surge::jobs {
namespace {

absl::Status Bad(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("job spec: '", std::string(field), "' ", std::string(why)));
}

// An integer field in [lo, hi]; absent keeps *out.
absl::Status ReadInt(const Json& json, const char* key, int lo, int hi, int* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) return Bad(key, "must be an integer");
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return Bad(key, absl::StrCat("must be in [", lo, ", ", hi, "]"));
  *out = static_cast<int>(v);
  return absl::OkStatus();
}

absl::Status ReadString(const Json& json, const char* key, std::string* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return Bad(key, "must be a string");
  *out = it->get<std::string>();
  return absl::OkStatus();
}

}  // namespace

const char* ToString(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<JobState> JobStateFromName(std::string_view name) {
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                     JobState::kCancelled}) {
    if (name == ToString(s)) return s;
  }
  return std::nullopt;
}

std::string DumpJson(const Json& json, int indent) {
  return json.dump(indent, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

std::string JobId(uint64_t seq) { return absl::StrCat("job-", seq); }

Json ToJson(const JobSpec& spec) {
  Json j = Json::object();
  j["kind"] = spec.kind;
  j["name"] = spec.name;
  j["args"] = spec.args;
  j["threads"] = spec.threads;
  j["priority"] = spec.priority;
  return j;
}

Json ToJson(const JobProgress& p) {
  Json j = Json::object();
  j["fraction"] = p.fraction;
  j["percent"] = std::round(p.fraction * 1000.0) / 10.0;
  j["eta_seconds"] = p.eta_seconds >= 0 ? Json(p.eta_seconds) : Json(nullptr);
  Json figures = Json::object();
  // JSON has no NaN: an unknown figure is null.
  for (const auto& [k, v] : p.figures) figures[k] = std::isfinite(v) ? Json(v) : Json(nullptr);
  j["figures"] = std::move(figures);
  j["message"] = p.message;
  return j;
}

Json ToJson(const JobInfo& info) {
  Json j = Json::object();
  j["id"] = info.id;
  j["object"] = "job";
  j["seq"] = info.seq;
  j["state"] = ToString(info.state);
  const Json spec = ToJson(info.spec);
  for (const auto& [k, v] : spec.items()) j[k] = v;
  j["progress"] = ToJson(info.progress);
  j["result"] = info.result;
  j["error"] = info.error.empty() ? Json(nullptr) : Json(info.error);
  j["attempts"] = info.attempts;
  j["created_at"] = info.created_at;
  j["started_at"] = info.started_at;
  j["finished_at"] = info.finished_at;
  return j;
}

absl::StatusOr<JobSpec> JobSpecFromJson(const Json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("job spec: must be a JSON object");
  static const std::set<std::string> kKnown = {"kind", "args", "threads", "priority", "name"};
  for (const auto& [key, value] : json.items()) {
    if (!kKnown.contains(key)) {
      return Bad(key, "is not a field of a job (known: kind, args, threads, priority, name)");
    }
  }
  JobSpec spec;
  SURGE_RETURN_IF_ERROR(ReadString(json, "kind", &spec.kind));
  if (spec.kind.empty()) return Bad("kind", "is required (train, eval, quantize, deploy)");
  SURGE_RETURN_IF_ERROR(ReadString(json, "name", &spec.name));
  if (spec.name.size() > 256) return Bad("name", "is longer than 256 bytes");
  SURGE_RETURN_IF_ERROR(ReadInt(json, "threads", 1, kMaxJobThreads, &spec.threads));
  SURGE_RETURN_IF_ERROR(ReadInt(json, "priority", kMinPriority, kMaxPriority, &spec.priority));
  if (auto it = json.find("args"); it != json.end() && !it->is_null()) {
    if (!it->is_object()) return Bad("args", "must be a JSON object");
    spec.args = *it;
  }
  return spec;
}

absl::StatusOr<JobInfo> JobInfoFromJson(const Json& json) {
  auto bad = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("job file: ", why));
  };
  if (!json.is_object()) return bad("not a JSON object");
  Json spec_json = Json::object();
  for (const char* k : {"kind", "args", "threads", "priority", "name"}) {
    if (json.contains(k)) spec_json[k] = json[k];
  }
  absl::StatusOr<JobSpec> spec = JobSpecFromJson(spec_json);
  if (!spec.ok()) return bad(spec.status().message());
  JobInfo info;
  info.spec = *std::move(spec);
  const auto state = json.find("state");
  if (state == json.end() || !state->is_string()) return bad("no state");
  std::optional<JobState> s = JobStateFromName(state->get<std::string>());
  if (!s) return bad(absl::StrCat("unknown state ", state->dump()));
  info.state = *s;
  const auto seq = json.find("seq");
  if (seq == json.end() || !seq->is_number_unsigned()) return bad("no seq");
  info.seq = seq->get<uint64_t>();
  info.id = JobId(info.seq);
  auto number = [&](const char* key) -> int64_t {
    auto it = json.find(key);
    return it != json.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  info.attempts = static_cast<int>(number("attempts"));
  info.created_at = number("created_at");
  info.started_at = number("started_at");
  info.finished_at = number("finished_at");
  if (auto it = json.find("result"); it != json.end()) info.result = *it;
  if (auto it = json.find("error"); it != json.end() && it->is_string()) {
    info.error = it->get<std::string>();
  }
  if (auto it = json.find("progress"); it != json.end() && it->is_object()) {
    const Json& p = *it;
    if (p.contains("fraction") && p["fraction"].is_number()) {
      info.progress.fraction = p["fraction"].get<double>();
    }
    if (p.contains("message") && p["message"].is_string()) {
      info.progress.message = p["message"].get<std::string>();
    }
    if (p.contains("figures") && p["figures"].is_object()) {
      for (const auto& [k, v] : p["figures"].items()) {
        info.progress.figures[k] = v.is_number() ? v.get<double>() : std::nan("");
      }
    }
  }
  return info;
}

}  // namespace surge::jobs
