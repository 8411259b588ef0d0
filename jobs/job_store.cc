#include "jobs/job_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace surge::jobs {
namespace fs = std::filesystem;

namespace {

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(std::string(what), " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<JobInfo> ReadJobFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::DataLossError("cannot open");
  std::stringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::DataLossError("not valid JSON");
  absl::StatusOr<JobInfo> info = JobInfoFromJson(json);
  if (info.ok() && info->id != path.stem().string()) {
    return absl::DataLossError(absl::StrCat("holds job ", info->id, " under another name"));
  }
  return info;
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno("cannot write", tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = Errno("cannot sync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename to", path);
  return absl::OkStatus();
}

absl::StatusOr<JobStore> JobStore::Open(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    return absl::UnavailableError(absl::StrCat("cannot use jobs directory ", dir, ": ",
                                               ec ? ec.message() : "not a directory"));
  }
  return JobStore(dir);
}

absl::Status JobStore::Save(const JobInfo& info) const {
  return WriteFileAtomically((fs::path(dir_) / (info.id + ".json")).string(),
                             DumpJson(ToJson(info), 2) + "\n");
}

absl::StatusOr<JobStore::Loaded> JobStore::LoadAll() const {
  Loaded out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, ec)) {
    const fs::path& path = entry.path();
    if (path.extension() != ".json" || !entry.is_regular_file()) continue;
    absl::StatusOr<JobInfo> info = ReadJobFile(path);
    if (info.ok()) {
      out.jobs.push_back(*std::move(info));
      continue;
    }
    const std::string aside = path.string() + ".corrupt";
    std::error_code rename_ec;
    fs::rename(path, aside, rename_ec);
    out.corrupt.push_back(
        absl::StrCat(path.string(), ": ", info.status().message(), " (moved to ", aside, ")"));
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot read ", dir_, ": ", ec.message()));
  std::sort(out.jobs.begin(), out.jobs.end(),
            [](const JobInfo& a, const JobInfo& b) { return a.seq < b.seq; });
  return out;
}

absl::StatusOr<std::string> JobStore::WorkDir(const std::string& id) const {
  const fs::path dir = fs::path(dir_) / id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  return dir.string();
}

}  // namespace surge::jobs
