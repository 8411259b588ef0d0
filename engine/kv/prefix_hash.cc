#include "engine/kv/prefix_hash.h"

#include <xxhash.h>

namespace surge::engine::kv {

uint64_t HashBlockTokens(uint64_t parent_hash, uint64_t salt, std::span<const int32_t> tokens) {
  // The 16-byte header (parent, salt) seeds the hash of the token bytes, so
  // the chain needs no copy of the tokens into a scratch buffer.
  const uint64_t header[2] = {parent_hash, salt};
  const XXH64_hash_t seed = XXH3_64bits(header, sizeof(header));
  return XXH3_64bits_withSeed(tokens.data(), tokens.size_bytes(), seed);
}

uint64_t SaltForTenant(std::string_view tenant) {
  if (tenant.empty()) return 0;
  const uint64_t salt = XXH3_64bits(tenant.data(), tenant.size());
  return salt == 0 ? 1 : salt;  // 0 stays reserved for "no tenant"
}

}  // namespace surge::engine::kv
