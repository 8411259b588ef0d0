#include "router/sse_framer.h"

namespace surge::router {

std::string SseFramer::Feed(std::string_view bytes) {
  buffer_.append(bytes);
  size_t boundary = 0;  // end of the last complete event in buffer_
  for (size_t i = scanned_; i < buffer_.size(); ++i) {
    const char c = buffer_[i];
    if (skip_lf_ && c == '\n') {  // second half of a CRLF
      skip_lf_ = false;
      if (at_boundary_) boundary = i + 1;
      continue;
    }
    skip_lf_ = false;
    if (c == '\r' || c == '\n') {
      at_boundary_ = line_length_ == 0;
      if (at_boundary_) boundary = i + 1;
      line_length_ = 0;
      skip_lf_ = c == '\r';
    } else {
      ++line_length_;
      at_boundary_ = false;
    }
  }
  scanned_ = buffer_.size();
  if (boundary == 0) return {};
  std::string out = buffer_.substr(0, boundary);
  buffer_.erase(0, boundary);
  scanned_ -= boundary;
  return out;
}

}  // namespace surge::router
