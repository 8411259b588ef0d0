#include "server/response_cache.h"

#include <bit>
#include <variant>

#include "absl/strings/str_cat.h"

namespace surge::server {
namespace {

// Builds the canonical key: "name=value;" with length-prefixed strings and
// floats as their bit patterns, so no two different requests share a key.
class KeyWriter {
 public:
  KeyWriter& Str(std::string_view name, std::string_view value) {
    absl::StrAppend(&out_, std::string(name), "=", value.size(), ":", std::string(value), ";");
    return *this;
  }
  KeyWriter& Int(std::string_view name, int64_t value) {
    absl::StrAppend(&out_, std::string(name), "=", value, ";");
    return *this;
  }
  KeyWriter& Float(std::string_view name, float value) {
    absl::StrAppend(&out_, std::string(name), "=f", std::bit_cast<uint32_t>(value), ";");
    return *this;
  }
  KeyWriter& Ids(std::string_view name, const std::vector<int32_t>& ids) {
    absl::StrAppend(&out_, std::string(name), "=", ids.size(), "[");
    for (int32_t id : ids) absl::StrAppend(&out_, id, ",");
    out_ += "];";
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

bool Deterministic(const openai::SamplingOptions& s) {
  return s.temperature == 0.0f || s.seed.has_value();
}

void WriteCommon(KeyWriter& w, std::string_view endpoint, const openai::CommonRequest& r,
                 std::string_view tenant, std::string_view model_file) {
  const openai::SamplingOptions& s = r.sampling;
  w.Str("v", "1").Str("endpoint", endpoint).Str("model", r.model).Str("file", model_file);
  w.Str("tenant", tenant);
  w.Int("max_tokens", s.max_tokens.value_or(-1)).Float("temperature", s.temperature);
  w.Float("top_p", s.top_p).Int("top_k", s.top_k).Float("min_p", s.min_p);
  w.Float("presence_penalty", s.presence_penalty).Float("frequency_penalty", s.frequency_penalty);
  w.Float("repetition_penalty", s.repetition_penalty).Int("n", s.n);
  w.Int("stops", static_cast<int64_t>(s.stop.size()));
  for (const std::string& stop : s.stop) w.Str("stop", stop);
  w.Int("has_seed", s.seed.has_value()).Int("seed", s.seed.value_or(0));
  w.Int("ignore_eos", s.ignore_eos).Int("logprobs", s.logprobs).Int("top_logprobs", s.top_logprobs);
}

}  // namespace

std::optional<std::string> ResponseCacheKey(const openai::CompletionRequest& request,
                                            std::string_view tenant, std::string_view model_file) {
  if (!Deterministic(request.sampling)) return std::nullopt;
  KeyWriter w;
  WriteCommon(w, "completions", request, tenant, model_file);
  if (const auto* text = std::get_if<std::string>(&request.prompt)) {
    w.Str("prompt_text", *text);
  } else {
    w.Ids("prompt_ids", std::get<std::vector<int32_t>>(request.prompt));
  }
  return w.Take();
}

std::optional<std::string> ResponseCacheKey(const openai::ChatRequest& request,
                                            std::string_view tenant, std::string_view model_file) {
  if (!Deterministic(request.sampling)) return std::nullopt;
  KeyWriter w;
  WriteCommon(w, "chat", request, tenant, model_file);
  w.Int("add_generation_prompt", request.add_generation_prompt);
  w.Int("messages", static_cast<int64_t>(request.messages.size()));
  for (const openai::ChatMessage& m : request.messages) {
    w.Str("role", openai::RoleName(m.role)).Str("name", m.name).Str("content", m.content);
  }
  return w.Take();
}

int64_t ResponseCache::EntryBytes(const std::string& key, const CachedResponse& response) {
  constexpr int64_t kEntryOverhead = 160, kDeltaOverhead = 64, kLogprobOverhead = 48;
  int64_t bytes = kEntryOverhead + 2 * static_cast<int64_t>(key.size());  // list + index
  for (const openai::Choice& d : response.deltas) {
    bytes += kDeltaOverhead + static_cast<int64_t>(d.text.size());
    if (!d.logprobs) continue;
    for (const openai::TokenLogprob& lp : *d.logprobs) {
      bytes += kLogprobOverhead + static_cast<int64_t>(lp.token.size());
      for (const openai::TopLogprob& t : lp.top) {
        bytes += kLogprobOverhead + static_cast<int64_t>(t.token.size());
      }
    }
  }
  return bytes;
}

std::shared_ptr<const CachedResponse> ResponseCache::Lookup(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(std::string_view(key));
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);  // iterators stay valid
  return it->second->response;
}

void ResponseCache::Insert(const std::string& key, std::shared_ptr<const CachedResponse> response) {
  if (!enabled() || response == nullptr) return;
  const int64_t bytes = EntryBytes(key, *response);
  if (bytes > max_bytes_) return;
  absl::MutexLock lock(&mu_);
  if (auto it = index_.find(std::string_view(key)); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;  // same key, same answer (deterministic)
  }
  EvictToFit(bytes);
  lru_.push_front(Entry{key, std::move(response), bytes});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  stats_.bytes += bytes;
  ++stats_.entries;
  ++stats_.insertions;
}

void ResponseCache::EvictToFit(int64_t incoming) {
  while (!lru_.empty() && stats_.bytes + incoming > max_bytes_) {
    Entry& victim = lru_.back();
    index_.erase(std::string_view(victim.key));
    stats_.bytes -= victim.bytes;
    --stats_.entries;
    ++stats_.evictions;
    lru_.pop_back();
  }
}

ResponseCache::Stats ResponseCache::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.max_bytes = max_bytes_;
  return s;
}

}  // namespace surge::server
