// FakeReplica (tests only): an in-process OpenAI-ish server whose answers a
// test scripts — success, an error status, an SSE stream, a stream that dies,
// a hang — and which records what it received.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/http/server.h"

namespace surge::router::testing {

struct FakeBehavior {
  enum class Kind {
    kOk,      // 200 JSON naming the replica
    kStatus,  // `status` with an error body (and Retry-After if set)
    kSse,     // `events` SSE events `gap` apart, then [DONE]
    kSseDie,  // `events` SSE events, then the connection is cut
    kAbort,   // a 200 header, then the connection is cut (no body)
    kHang,    // never answers (until the client leaves or Stop())
  };
  Kind kind = Kind::kOk;
  int status = 200;
  std::string retry_after;
  int events = 3;
  std::chrono::milliseconds gap{0};
};

// Thread safety: every method is thread-safe.
class FakeReplica {
 public:
  explicit FakeReplica(std::vector<std::string> models = {"m"});
  ~FakeReplica();

  uint16_t port() const { return http_->port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::string name() const { return "127.0.0.1:" + std::to_string(port()); }
  void SetBehavior(FakeBehavior b);
  void SetHealth(int status) { health_ = status; }
  int requests() const { return requests_.load(); }
  int closed_by_client() const { return closed_by_client_.load(); }
  std::string last_body() const;
  server::http::Headers last_headers() const;
  void Stop();

 private:
  void Generate(std::shared_ptr<server::http::Exchange> ex);
  void Stream(std::shared_ptr<server::http::Exchange> ex, FakeBehavior b, std::stop_token stop);

  std::unique_ptr<server::http::HttpServer> http_;
  std::vector<std::string> models_;
  std::atomic<int> health_{200};
  std::atomic<int> requests_{0};
  std::atomic<int> closed_by_client_{0};
  mutable absl::Mutex mu_;
  FakeBehavior behavior_ ABSL_GUARDED_BY(mu_);
  std::string last_body_ ABSL_GUARDED_BY(mu_);
  server::http::Headers last_headers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::jthread> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<server::http::Exchange>> hung_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::router::testing
