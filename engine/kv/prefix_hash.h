// Hashes for the prefix cache. A full block of tokens is keyed by a hash chain:
// HashBlockTokens(parent_hash, salt, tokens), where parent_hash is the key of
// the block before it (kRootBlockHash for the first block) and salt names the
// tenant. Equal keys mean "very probably the same prefix"; the pool still
// compares the tokens and the parent before reusing a block, so a collision
// costs a cache miss, never another sequence's KV.
//
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace surge::engine::kv {

// Parent hash of a sequence's first block.
inline constexpr uint64_t kRootBlockHash = 0x5375726765ULL;  // "Surge"

// xxh3-64 over (parent_hash, salt, tokens).
uint64_t HashBlockTokens(uint64_t parent_hash, uint64_t salt, std::span<const int32_t> tokens);

// Turns a tenant name into a salt. Tenants with equal salts share cached
// blocks, so the server should give each tenant its own name; the empty name
// maps to salt 0, the shared namespace of requests that carry no tenant.
uint64_t SaltForTenant(std::string_view tenant);

// The hash the KvCacheManager uses; tests substitute a weak one to force
// collisions.
using BlockHashFn = uint64_t (*)(uint64_t parent_hash, uint64_t salt,
                                 std::span<const int32_t> tokens);

}  // namespace surge::engine::kv
