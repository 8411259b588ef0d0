// SseFramer: cuts a Server-Sent Events byte stream at event boundaries.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace surge::router {

// The router relays a replica's SSE stream as it arrives, but only whole
// events: bytes up to the last blank line go out at once, the unfinished
// tail waits for the rest of its event. So if the replica dies mid-event,
// the client has seen only complete events and the router's closing error
// event cannot be glued onto half a line. Lines may end in LF, CRLF or CR,
// also split across Feed() calls.
//
// Thread safety: none; one framer per stream.
class SseFramer {
 public:
  // Appends `bytes`; returns everything up to the end of the last complete
  // event (possibly empty) and keeps the rest.
  std::string Feed(std::string_view bytes);
  // The held-back bytes of an unfinished event.
  const std::string& pending() const { return buffer_; }

 private:
  std::string buffer_;
  size_t scanned_ = 0;        // bytes of buffer_ already scanned
  size_t line_length_ = 0;    // characters on the current line so far
  bool skip_lf_ = false;      // the last byte was CR: an LF now ends nothing
  bool at_boundary_ = false;  // the last terminator ended an empty line
};

}  // namespace surge::router
