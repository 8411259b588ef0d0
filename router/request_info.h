// RequestInfo: the little the router reads from an OpenAI request body to
// route and admit it. The body itself is forwarded unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace surge::router {

struct PrefixOptions {
  size_t block_bytes = 128;  // prompt bytes per hashed block
  size_t max_blocks = 64;    // blocks hashed at most (the leading 8 KiB by default)
};

struct RequestInfo {
  std::string model;  // "" when the body names none
  bool stream = false;
  int64_t max_tokens = 0;  // 0 when absent (max_tokens or max_completion_tokens)
  int64_t n = 1;
  size_t prompt_bytes = 0;  // of the routing text (see below)
  // Hash chain over the routing text's full blocks: hash[i] covers blocks
  // 0..i and the tenant salt, so equal hashes mean an equal leading prefix of
  // the same tenant.
  std::vector<uint64_t> prefix_hashes;

  // Tokens the request may cost: prompt estimated at 4 bytes a token, plus
  // n * (max_tokens, or `default_max_tokens` when absent).
  int64_t EstimatedTokens(int64_t default_max_tokens) const;
};

// Parses `body` as JSON (depth-bounded) and extracts the fields above. The
// routing text is, for chat, the concatenated role and text content of the
// messages (with separators); for completions, the prompt (the first one of
// a batch; token ids as decimal text). `tenant` (e.g. the Authorization
// header) salts the hashes, as the replicas salt their prefix caches.
// Errors: InvalidArgument ("invalid_json") when the body is not a JSON
// object. Fields of an unexpected type are ignored, not errors: validating
// the request is the replica's job.
absl::StatusOr<RequestInfo> ParseRequestInfo(std::string_view body, std::string_view tenant,
                                             const PrefixOptions& options);

// The hash chain of `text` as described for RequestInfo::prefix_hashes.
std::vector<uint64_t> PrefixHashes(std::string_view text, std::string_view tenant,
                                   const PrefixOptions& options);

// False when JSON `text` nests arrays/objects deeper than `max_depth`
// (checked before parsing, so a hostile body cannot exhaust the stack).
bool JsonDepthWithin(std::string_view text, int max_depth);

}  // namespace surge::router
