// ProxyCall: one client request relayed to a replica, with retries before
// the first byte and a clean error event if a stream is cut.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "router/request_info.h"
#include "router/router_context.h"
#include "router/sse_framer.h"
#include "server/http/client.h"
#include "server/http/exchange.h"

namespace surge::router {

// What the router learned about a request before relaying it.
struct ProxyRequest {
  std::string endpoint;  // metric label: "chat", "completions", "other"
  RequestInfo info;
  std::string authorization;  // sent upstream ("" = none)
};

// Model, per attempt: pick a replica with the policy among the eligible ones
// not tried yet → forward the request (body unchanged) → relay the answer.
//   - A non-streamed answer is buffered (it is small) and sent whole, so a
//     replica dying mid-answer is retried like one that refused the
//     connection.
//   - An SSE answer goes out event by event as it arrives (SseFramer); the
//     client's response starts with the first event. Until then nothing has
//     reached the client and a failure is retried.
//   - Retried, to another replica, within max_attempts and the retry budget:
//     connection failures, 5xx and 429 (whose Retry-After benches the replica
//     for that long). Other answers pass through unchanged.
//   - Once streaming, a failure ends the stream with `data: {"error":...}`
//     and no [DONE].
//   - A client that leaves cancels the upstream request; one that stops
//     reading (more than max_pending_bytes unsent) is cut off.
// The call holds one admission slot and gives it back exactly once.
//
// Ownership: keeps itself alive through the callbacks it hands out.
// Thread safety: all state lives on the exchange's strand (upstream
// callbacks are posted there).
class ProxyCall : public std::enable_shared_from_this<ProxyCall> {
 public:
  // Starts relaying; the caller already took an admission slot for it.
  static void Start(std::shared_ptr<RouterContext> ctx,
                    std::shared_ptr<server::http::Exchange> exchange, ProxyRequest request);

  ProxyCall(std::shared_ptr<RouterContext> ctx, std::shared_ptr<server::http::Exchange> exchange,
            ProxyRequest request);

 private:
  void Begin();
  void Attempt();
  server::http::ClientRequest UpstreamRequest() const;
  void OnHeaders(int status, server::http::Headers headers);
  void OnChunk(std::string bytes);
  void OnDone(const std::shared_ptr<Replica>& replica, const absl::Status& status);
  void OnFailedAttempt(const absl::Status& status);
  void Commit();
  bool Retry(std::string_view reason);
  void BenchReplica(const std::shared_ptr<Replica>& replica);
  void RespondUpstream();
  void RespondError(int status, std::string_view message, std::string_view code,
                    int retry_after_s = 0);
  void EndStreamWithError(std::string_view message);
  void ClientGone();
  void Finish(int status);
  void LogAccess(int status) const;

  const std::shared_ptr<RouterContext> ctx_;
  const std::shared_ptr<server::http::Exchange> ex_;
  const ProxyRequest req_;
  const uint64_t id_;
  const base::TimePoint start_;
  std::vector<std::string> tried_;
  // The current attempt.
  std::shared_ptr<Replica> replica_;
  std::shared_ptr<server::http::ClientCall> call_;
  base::TimePoint attempt_start_{};
  int up_status_ = 0;
  server::http::Headers up_headers_;
  std::string up_body_;
  bool sse_ = false;
  SseFramer framer_;
  // The whole call.
  bool committed_ = false;  // response bytes went to the client: no more retries
  bool done_ = false;
  base::TimePoint first_byte_{};
};

}  // namespace surge::router
