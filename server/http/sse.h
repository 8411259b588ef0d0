// SseParser: incremental parser for a Server-Sent Events stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace surge::server::http {

// One dispatched event. `event` is empty when the stream named no type
// (browsers then call it "message").
struct SseEvent {
  std::string event;
  std::string data;  // data lines joined with '\n'
  std::string id;    // the last event id seen so far in the stream
};

// Follows the WHATWG EventSource parsing rules: lines end in CRLF, LF or CR
// (also when a CRLF is split across two Feed() calls); a blank line dispatches
// the event; `data` lines accumulate; lines starting with ':' are comments;
// one space after the colon is dropped; unknown fields are ignored; an event
// without data is not dispatched; a leading UTF-8 BOM is skipped. Bytes may
// arrive in pieces of any size. An event still open when the stream ends is
// discarded, as browsers do.
//
// Errors: a line longer than `max_line_bytes` makes Feed() fail (the stream
// is then unusable).
// Thread safety: none; one parser per stream.
class SseParser {
 public:
  explicit SseParser(size_t max_line_bytes = 16 << 20) : max_line_bytes_(max_line_bytes) {}

  // Parses `bytes` and appends every event they complete to `events`.
  absl::Status Feed(std::string_view bytes, std::vector<SseEvent>* events);

  // The reconnection time the stream asked for with `retry:`, or -1.
  long long retry_ms() const { return retry_ms_; }

 private:
  void ProcessLine(std::string_view line, std::vector<SseEvent>* events);

  const size_t max_line_bytes_;
  std::string line_;
  bool skip_lf_ = false;  // the last byte was CR; a following LF ends nothing
  bool at_stream_start_ = true;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  std::string last_id_;
  long long retry_ms_ = -1;
};

}  // namespace surge::server::http
