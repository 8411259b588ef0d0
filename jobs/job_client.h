// JobClient talks to the job API of a running `surge serve` (jobs_api.h):
// the client side of `surge job submit|list|watch|cancel`.
//
// Watch() follows a job's events until it ends. A stream that breaks or
// stays silent past the read timeout is opened again: the server replays the
// job as it is on every subscription, so nothing a watcher shows is lost.
// It gives up after a few reconnections in a row that bring no event.
//
// Thread safety: a JobClient is immutable; each call opens its own
// connections on a private io_context in the calling thread (blocking).
// Errors: the server's error message with a code from its HTTP status (400
// InvalidArgument, 401 Unauthenticated, 403 PermissionDenied, 404 NotFound,
// 409 FailedPrecondition, 503 Unavailable, others Internal); transport
// errors from the HTTP client; a bad URL InvalidArgument.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/job.h"
#include "jobs/job_events.h"

namespace surge::jobs {

struct JobClientOptions {
  std::string url;      // http://host:port
  std::string api_key;  // sent as Authorization: Bearer (the admin key for submit/cancel)
  std::chrono::milliseconds timeout{30000};        // per request, and between event bytes
  std::chrono::milliseconds watch_timeout{60000};  // silence before an events stream is reopened
};

class JobClient {
 public:
  [[nodiscard]] static absl::StatusOr<JobClient> Create(JobClientOptions options);

  [[nodiscard]] absl::StatusOr<JobInfo> Submit(const JobSpec& spec) const;
  [[nodiscard]] absl::StatusOr<std::vector<JobInfo>> List() const;
  [[nodiscard]] absl::StatusOr<JobInfo> Get(const std::string& id) const;
  [[nodiscard]] absl::StatusOr<JobInfo> Cancel(const std::string& id) const;
  // Calls on_event for each event (the first replays the job as it is) and
  // returns the job once it is in a terminal state.
  [[nodiscard]] absl::StatusOr<JobInfo> Watch(
      const std::string& id, const std::function<void(const JobEvent&)>& on_event) const;

 private:
  JobClient(JobClientOptions options, std::string host, uint16_t port)
      : options_(std::move(options)), host_(std::move(host)), port_(port) {}
  absl::StatusOr<Json> Call(const std::string& method, const std::string& target,
                            const std::string& body) const;
  // One events connection: OK once the terminal event arrived; otherwise
  // the transport status. *got_events tells whether anything arrived.
  absl::Status WatchOnce(const std::string& id, const std::function<void(const JobEvent&)>& fn,
                         JobInfo* last, bool* got_events) const;

  JobClientOptions options_;
  std::string host_;
  uint16_t port_ = 0;
};

// "http://host:port[/]" -> host and port (default 80).
[[nodiscard]] absl::Status ParseHttpUrl(const std::string& url, std::string* host, uint16_t* port);

}  // namespace surge::jobs
