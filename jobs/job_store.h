// JobStore keeps the jobs of a JobManager on disk, so a restart finds them:
// one JSON file per job (<dir>/<id>.json, the JobInfo as the API shows it)
// and one work directory per job (<dir>/<id>/) for checkpoints and outputs.
//
// Writes are atomic: the file is written beside its final name, flushed to
// disk and renamed over it, so a crash leaves the previous version or the
// new one, never a torn file.
// Ownership: owns nothing but the directory's contents.
// Thread safety: Save() and WorkDir() are thread-safe for different jobs;
// the manager serializes saves of one job.
// Errors: I/O errors name the path. LoadAll() does not fail on a bad file:
// it is renamed to <name>.corrupt and reported, so it is never silently
// dropped nor read again.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/job.h"

namespace surge::jobs {

class JobStore {
 public:
  // Creates the directory if needed.
  [[nodiscard]] static absl::StatusOr<JobStore> Open(const std::string& dir);

  [[nodiscard]] absl::Status Save(const JobInfo& info) const;

  struct Loaded {
    std::vector<JobInfo> jobs;         // by seq
    std::vector<std::string> corrupt;  // files set aside, with the reason
  };
  [[nodiscard]] absl::StatusOr<Loaded> LoadAll() const;

  // <dir>/<id>, created if needed.
  [[nodiscard]] absl::StatusOr<std::string> WorkDir(const std::string& id) const;

  const std::string& dir() const { return dir_; }

 private:
  explicit JobStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Writes `contents` to `path` atomically (temporary file, fsync, rename).
[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path,
                                               const std::string& contents);

}  // namespace surge::jobs
