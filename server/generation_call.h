// The last legs of a generation request (internal to server/): submitting
// a tokenized prompt to the leased model's engine and relaying its token
// stream (StartGeneration), or answering from the response cache
// (ReplayCached). Both write through a ResponseWriter.
//
// Thread safety: call on the exchange's strand; the relay then runs there.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/http/exchange.h"
#include "server/model_registry.h"
#include "server/openai/format.h"
#include "server/openai/protocol.h"
#include "server/response_cache.h"
#include "server/tenants.h"

namespace surge::server {

class ApiServer;

// What a request carries once it passed authentication, parsing and quotas.
struct GenerationInput {
  openai::Endpoint endpoint = openai::Endpoint::kCompletion;
  openai::CommonRequest common;
  std::vector<int32_t> prompt;  // filled once tokenized
  const char* prompt_param = "prompt";
  std::shared_ptr<Tenant> tenant;
  std::shared_ptr<QuotaTicket> ticket;   // the tenant's concurrency slot
  std::optional<std::string> cache_key;  // set for deterministic requests with the cache on
};

// Submits `in` to the lease's engine and relays the result; answers errors
// (context too long, queue full, ...) itself.
void StartGeneration(ApiServer& server, std::shared_ptr<http::Exchange> ex, GenerationInput in,
                     std::shared_ptr<ModelLease> lease);

// Answers `in` from a cached response: new id and created time, usage marked
// as cached (all prompt tokens cached, "surge_cached_response": true).
void ReplayCached(ApiServer& server, std::shared_ptr<http::Exchange> ex, const GenerationInput& in,
                  const CachedResponse& cached);

}  // namespace surge::server
