#include "bench/load/response_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace surge::bench {
namespace {

using Json = nlohmann::json;

// Non-streaming bodies are parsed whole; error bodies are kept only for the
// message.
constexpr size_t kMaxWholeBodyBytes = 64 << 20;
constexpr size_t kMaxErrorBodyBytes = 4096;

bool NonEmptyString(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

// True if any choice of the chunk (or whole response) carries output text.
bool HasContent(const Json& j) {
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array()) return false;
  for (const Json& c : *choices) {
    if (!c.is_object()) continue;
    if (NonEmptyString(c, "text")) return true;
    for (const char* part : {"delta", "message"}) {
      auto d = c.find(part);
      if (d != c.end() && d->is_object() &&
          (NonEmptyString(*d, "content") || NonEmptyString(*d, "reasoning_content"))) {
        return true;
      }
    }
  }
  return false;
}

int64_t IntField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string ErrorMessage(const Json& j) {
  const Json& e = j["error"];
  if (e.is_object() && e.contains("message") && e["message"].is_string()) {
    return e["message"].get<std::string>();
  }
  if (e.is_string()) return e.get<std::string>();
  return e.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

void ResponseReader::OnBody(std::string_view bytes, double at_s) {
  if (status_ != 200 || !streaming_) {
    const size_t cap = status_ == 200 ? kMaxWholeBodyBytes : kMaxErrorBodyBytes;
    if (body_.size() < cap) body_.append(bytes.substr(0, cap - body_.size()));
    if (status_ == 200 && body_.size() >= kMaxWholeBodyBytes) {
      Fail(ErrorKind::kProtocol, "response body over 64 MiB");
    }
    return;
  }
  if (error_ != ErrorKind::kNone) return;
  events_.clear();
  if (absl::Status s = parser_.Feed(bytes, &events_); !s.ok()) {
    Fail(ErrorKind::kProtocol, std::string(s.message()));
    return;
  }
  for (const server::http::SseEvent& e : events_) {
    OnEvent(e.data, at_s);
    if (error_ != ErrorKind::kNone) return;
  }
}

void ResponseReader::OnEvent(std::string_view data, double at_s) {
  if (done_seen_) return;  // anything after [DONE] is ignored
  if (data == "[DONE]") {
    done_seen_ = true;
    return;
  }
  const Json j = Json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    Fail(ErrorKind::kProtocol, "stream chunk is not a JSON object");
    return;
  }
  if (j.contains("error")) {
    Fail(ErrorKind::kStreamError, absl::StrCat("stream error: ", ErrorMessage(j)));
    return;
  }
  if (HasContent(j)) {
    if (!first_content_s_.has_value()) {
      first_content_s_ = at_s;
    } else {
      gaps_s_.push_back(at_s - last_content_s_);
    }
    last_content_s_ = at_s;
    ++content_chunks_;
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    usage_seen_ = true;
    prompt_tokens_ = IntField(*u, "prompt_tokens");
    completion_tokens_ = IntField(*u, "completion_tokens");
    auto details = u->find("prompt_tokens_details");
    if (details != u->end() && details->is_object() && details->contains("cached_tokens") &&
        (*details)["cached_tokens"].is_number_integer()) {
      cached_tokens_ = (*details)["cached_tokens"].get<int64_t>();
    }
  }
}

void ResponseReader::Fail(ErrorKind kind, std::string message) {
  if (error_ != ErrorKind::kNone) return;
  error_ = kind;
  error_message_ = std::move(message);
}

void ResponseReader::CompleteWhole() {
  const Json j = Json::parse(body_, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    Fail(ErrorKind::kProtocol, "response is not a JSON object");
    return;
  }
  if (j.contains("error")) {
    Fail(ErrorKind::kStreamError, absl::StrCat("error in response: ", ErrorMessage(j)));
    return;
  }
  // The chunk logic reads usage (and counts one content chunk when the
  // response has text but no usage); a whole response has no TTFT or ITL.
  OnEvent(body_, 0);
  first_content_s_.reset();
  gaps_s_.clear();
}

void ResponseReader::Complete(double at_s, RequestRecord* record) {
  record->e2e_s = at_s;
  record->http_status = status_;
  if (status_ != 200) {
    record->error = ErrorKind::kHttpStatus;
    const Json j = Json::parse(body_, nullptr, /*allow_exceptions=*/false);
    const std::string detail = !j.is_discarded() && j.is_object() && j.contains("error")
                                   ? ErrorMessage(j)
                                   : body_.substr(0, 200);
    record->error_message = absl::StrCat("HTTP ", status_, ": ", detail);
    return;
  }
  if (!streaming_) {
    CompleteWhole();
  } else if (error_ == ErrorKind::kNone && !done_seen_) {
    Fail(ErrorKind::kProtocol, "stream ended without data: [DONE]");
  }
  record->error = error_;
  record->error_message = error_message_;
  record->ttft_s = first_content_s_;
  record->itl_s = std::move(gaps_s_);
  record->usage_reported = usage_seen_;
  record->prompt_tokens = prompt_tokens_;
  record->output_tokens = usage_seen_ ? completion_tokens_ : content_chunks_;
  record->cached_tokens = cached_tokens_;
}

}  // namespace surge::bench
