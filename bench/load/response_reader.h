// ResponseReader: turns one HTTP response of /v1/completions or
// /v1/chat/completions into the measurements of a RequestRecord, as the bytes
// arrive. Streams go through server/http's SseParser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/stats.h"
#include "server/http/sse.h"

namespace surge::bench {

// Streaming model: each `data:` event is one JSON chunk; a chunk whose
// choices carry non-empty text (`text`, `delta.content` or
// `delta.reasoning_content`) is a content chunk: the first one sets TTFT, the
// gaps between later ones are the ITL samples. A chunk with a non-null
// `usage` gives exact token counts (prompt, completion, and
// prompt_tokens_details.cached_tokens when present); without one the output
// token count is the number of content chunks. `data: [DONE]` ends the stream;
// a stream without it is a protocol error, and an event carrying `error` is a
// stream error.
// Non-streaming model: the whole body is one JSON response with `usage`.
// A status other than 200 is an HTTP error whose message is the body's
// error.message when it has one.
//
// Times are seconds since the request was due, supplied by the caller, so the
// reader is a pure function of (bytes, times) and testable without a clock.
// Thread safety: none; one reader per request.
class ResponseReader {
 public:
  explicit ResponseReader(bool streaming) : streaming_(streaming) {}

  void OnStatus(int status) { status_ = status; }
  void OnBody(std::string_view bytes, double at_s);

  // The transport delivered the whole response at `at_s`: fills `record`'s
  // outcome, latencies and token counts (index, start and max_tokens are the
  // caller's).
  void Complete(double at_s, RequestRecord* record);

  // What has been seen so far, for a request that failed in transport.
  std::optional<double> ttft_s() const { return first_content_s_; }

 private:
  void OnEvent(std::string_view data, double at_s);
  void Fail(ErrorKind kind, std::string message);
  void CompleteWhole();

  const bool streaming_;
  int status_ = 0;
  server::http::SseParser parser_;
  std::vector<server::http::SseEvent> events_;
  std::string body_;  // non-streaming body, or the start of an error body

  std::optional<double> first_content_s_;
  double last_content_s_ = 0;
  std::vector<double> gaps_s_;
  int64_t content_chunks_ = 0;
  bool done_seen_ = false;
  bool usage_seen_ = false;
  int64_t prompt_tokens_ = 0;
  int64_t completion_tokens_ = 0;
  std::optional<int64_t> cached_tokens_;
  ErrorKind error_ = ErrorKind::kNone;
  std::string error_message_;
};

}  // namespace surge::bench
