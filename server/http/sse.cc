#include "server/http/sse.h"

#include "absl/strings/str_cat.h"

namespace surge::server::http {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

absl::Status SseParser::Feed(std::string_view bytes, std::vector<SseEvent>* events) {
  size_t pos = 0;
  if (at_stream_start_) {
    // The BOM may itself be split; hold back a prefix of it until decided.
    line_.append(bytes);
    bytes = {};
    if (line_.size() < kBom.size() && kBom.substr(0, line_.size()) == line_) {
      return absl::OkStatus();
    }
    at_stream_start_ = false;
    std::string pending = std::move(line_);
    line_.clear();
    std::string_view rest = pending;
    if (rest.substr(0, kBom.size()) == kBom) rest.remove_prefix(kBom.size());
    return Feed(rest, events);
  }
  while (pos < bytes.size()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes[pos] == '\n') {
        ++pos;
        continue;
      }
    }
    const size_t end = bytes.find_first_of("\r\n", pos);
    const size_t stop = end == std::string_view::npos ? bytes.size() : end;
    if (line_.size() + (stop - pos) > max_line_bytes_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("server-sent event line longer than ", max_line_bytes_, " bytes"));
    }
    if (end == std::string_view::npos) {
      line_.append(bytes.substr(pos));
      break;
    }
    if (line_.empty()) {
      ProcessLine(bytes.substr(pos, end - pos), events);
    } else {
      line_.append(bytes.substr(pos, end - pos));
      ProcessLine(line_, events);
      line_.clear();
    }
    skip_lf_ = bytes[end] == '\r';
    pos = end + 1;
  }
  return absl::OkStatus();
}

void SseParser::ProcessLine(std::string_view line, std::vector<SseEvent>* events) {
  if (line.empty()) {  // dispatch
    if (has_data_) {
      events->push_back(SseEvent{std::move(event_), std::move(data_), last_id_});
    }
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment (e.g. a keep-alive ping)
  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_ = std::string(value);
  } else if (field == "retry") {
    if (!value.empty() && value.size() < 18 &&
        value.find_first_not_of("0123456789") == std::string_view::npos) {
      retry_ms_ = std::stoll(std::string(value));
    }
  }
}

}  // namespace surge::server::http
