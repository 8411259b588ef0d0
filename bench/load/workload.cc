#include "bench/load/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/load/rng.h"
#include "bench/load/text.h"
#include "nlohmann/json.hpp"

namespace surge::bench {
namespace {

using Json = nlohmann::json;

// Common English words; each is a single token in most vocabularies when it
// follows a space.
constexpr std::string_view kWords[] = {
    "the",     "of",      "and",    "to",      "in",     "is",     "was",     "he",      "for",
    "it",      "with",    "as",     "his",     "on",     "be",     "at",      "by",      "had",
    "not",     "are",     "but",    "from",    "or",     "have",   "an",      "they",    "which",
    "one",     "you",     "were",   "her",     "all",    "she",    "there",   "would",   "their",
    "we",      "him",     "been",   "has",     "when",   "who",    "will",    "more",    "no",
    "if",      "out",     "so",     "said",    "what",   "up",     "its",     "about",   "into",
    "than",    "them",    "can",    "only",    "other",  "new",    "some",    "could",   "time",
    "these",   "two",     "may",    "then",    "do",     "first",  "any",     "my",      "now",
    "such",    "like",    "our",    "over",    "man",    "me",     "even",    "most",    "made",
    "after",   "also",    "did",    "many",    "before", "must",   "through", "back",    "years",
    "where",   "much",    "your",   "way",     "well",   "down",   "should",  "because", "each",
    "just",    "those",   "people", "how",     "too",    "little", "state",   "good",    "very",
    "make",    "world",   "still",  "own",     "see",    "men",    "work",    "long",    "get",
    "here",    "between", "both",   "life",    "being",  "under",  "never",   "day",     "same",
    "another", "know",    "while",  "last",    "might",  "us",     "great",   "old",     "year",
    "off",     "come",    "since",  "against", "go",     "came",   "right",   "used",    "take",
    "three",   "house",   "water",  "light",   "land",   "king",   "city",    "word",    "hand",
    "heart",   "night",   "earth",  "fire",    "name",   "place",  "sea",
};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::vector<Message>> ParseEntry(const Json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  if (auto p = j.find("prompt"); p != j.end()) {
    if (!p->is_string()) return absl::InvalidArgumentError("\"prompt\" is not a string");
    return std::vector<Message>{{"user", p->get<std::string>()}};
  }
  auto m = j.find("messages");
  if (m == j.end()) return absl::InvalidArgumentError("needs \"prompt\" or \"messages\"");
  if (!m->is_array() || m->empty()) {
    return absl::InvalidArgumentError("\"messages\" is not a non-empty array");
  }
  std::vector<Message> out;
  for (const Json& msg : *m) {
    if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string() ||
        !msg.contains("content") || !msg["content"].is_string()) {
      return absl::InvalidArgumentError("each message needs string \"role\" and \"content\"");
    }
    out.push_back({msg["role"].get<std::string>(), msg["content"].get<std::string>()});
  }
  return out;
}

std::string JoinContents(const std::vector<Message>& messages) {
  std::string out;
  for (const Message& m : messages) {
    if (!out.empty()) out += "\n\n";
    out += m.content;
  }
  return out;
}

}  // namespace

std::string SyntheticText(int64_t tokens, uint64_t seed) {
  const int64_t words = std::max<int64_t>(1, std::llround(tokens / kTokensPerWord));
  Rng rng(seed);
  std::string out;
  out.reserve(static_cast<size_t>(words) * 6);
  for (int64_t i = 0; i < words; ++i) {
    if (i > 0) out += ' ';
    out += kWords[rng.Next() % kNumWords];
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<Message>>> ParseDataset(std::string_view jsonl) {
  std::vector<std::vector<Message>> out;
  int line_no = 0;
  for (std::string_view line : SplitView(jsonl, '\n')) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset line ", line_no, ": invalid JSON"));
    }
    absl::StatusOr<std::vector<Message>> entry = ParseEntry(j);
    if (!entry.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset line ", line_no, ": ", std::string(entry.status().message())));
    }
    out.push_back(*std::move(entry));
  }
  if (out.empty()) return absl::InvalidArgumentError("dataset has no entries");
  return out;
}

absl::StatusOr<Workload> Workload::Create(const BenchConfig& config) {
  Workload w;
  w.seed_ = config.seed;
  w.prompt_tokens_ = config.prompt_tokens;
  w.max_tokens_ = config.max_tokens;
  if (!config.dataset_path.empty()) {
    bool ok = false;
    const std::string text = ReadAll(config.dataset_path, &ok);
    if (!ok)
      return absl::NotFoundError(absl::StrCat("cannot read --dataset ", config.dataset_path));
    absl::StatusOr<std::vector<std::vector<Message>>> entries = ParseDataset(text);
    if (!entries.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.dataset_path, ": ", std::string(entries.status().message())));
    }
    w.dataset_ = *std::move(entries);
    w.order_.resize(w.dataset_.size());
    for (size_t i = 0; i < w.order_.size(); ++i) w.order_[i] = static_cast<uint32_t>(i);
    Rng rng(MixSeed(config.seed, SeedTag("dataset-order")));
    for (size_t i = w.order_.size(); i > 1; --i) {  // Fisher-Yates
      std::swap(w.order_[i - 1], w.order_[rng.Next() % i]);
    }
  } else if (config.shared_prefix_tokens > 0) {
    for (int64_t k = 0; k < config.num_prefixes; ++k) {
      w.prefixes_.push_back(
          SyntheticText(config.shared_prefix_tokens, MixSeed(config.seed, SeedTag("prefix"), k)));
    }
  }
  return w;
}

RequestSpec Workload::Request(uint64_t stream, int64_t index) const {
  Rng rng(MixSeed(seed_, stream, static_cast<uint64_t>(index)));
  RequestSpec spec;
  spec.index = index;
  spec.max_tokens = rng.UniformInt(max_tokens_.min, max_tokens_.max);
  if (!dataset_.empty()) {
    const uint64_t offset = MixSeed(seed_, SeedTag("dataset-offset"), stream) % dataset_.size();
    const uint64_t slot = (offset + static_cast<uint64_t>(index)) % dataset_.size();
    spec.messages = dataset_[order_[slot]];
    return spec;
  }
  if (!prefixes_.empty()) {
    spec.messages.push_back({"system", prefixes_[static_cast<size_t>(index) % prefixes_.size()]});
  }
  const int64_t tokens = rng.UniformInt(prompt_tokens_.min, prompt_tokens_.max);
  spec.messages.push_back({"user", SyntheticText(tokens, rng.Next())});
  return spec;
}

std::string BuildRequestBody(const RequestSpec& spec, const BodyOptions& o) {
  Json body = Json::object();
  if (!o.model.empty()) body["model"] = o.model;
  if (o.endpoint == Endpoint::kChat) {
    Json messages = Json::array();
    for (const Message& m : spec.messages) {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    body["messages"] = std::move(messages);
  } else {
    body["prompt"] = JoinContents(spec.messages);
  }
  body["max_tokens"] = spec.max_tokens;
  body["temperature"] = o.temperature;
  body["stream"] = o.stream;
  if (o.stream) body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  // Invalid UTF-8 from a dataset is replaced rather than thrown on.
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace surge::bench
