// The on-disk form of a session (see session_table.h): which model it
// belongs to, its tenant salt and id, its tokens, and the K/V of its pinned
// blocks, so a restarted server continues a conversation without
// recomputing it.
//
// Layout (little-endian, the machine's own; files are not meant to move
// between architectures):
//   "SURGESES" | u32 version | u64 model fingerprint | u32 n_layers, n_kv_heads,
//   head_dim, block_size | u64 salt | u32 id bytes, id | u32 n_tokens,
//   i32 tokens[n_tokens] | per block, per layer: K then V of the block
//   (n_kv_heads * block_size * head_dim fp16) | u64 XXH3 of everything before.
//
// Errors: Parse() rejects, with a message naming the problem, a file that is
// truncated, has trailing bytes, fails its checksum, was written for another
// model (fingerprint or shape), or holds token ids outside the vocabulary.
// Thread safety: plain functions over values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/model.h"

namespace surge::engine {

struct SessionRecord {
  uint64_t salt = 0;
  std::string id;
  std::vector<int32_t> tokens;  // block_size * num_blocks
  // K/V of every block: per block, per layer, K then V (the cache's rows).
  std::vector<uint8_t> kv;
};

// Identifies a model's weights well enough that a session computed with
// another model is never loaded into this one: name, shape and a hash of
// some weight bytes.
uint64_t ModelFingerprint(const model::Model& model);

// Copies the K/V of `blocks` out of / into the cache, in the file's order.
std::vector<uint8_t> ReadBlocks(kv::KvCache& cache, const std::vector<int32_t>& blocks);
void WriteBlocks(kv::KvCache& cache, const std::vector<int32_t>& blocks,
                 const std::vector<uint8_t>& kv);
// Overwrites the blocks' K/V with zeros.
void WipeBlocks(kv::KvCache& cache, const std::vector<int32_t>& blocks);

std::string SerializeSession(const SessionRecord& record, uint64_t fingerprint,
                             const kv::KvCacheShape& shape);
[[nodiscard]] absl::StatusOr<SessionRecord> ParseSession(std::string_view bytes,
                                                         uint64_t fingerprint,
                                                         const kv::KvCacheShape& shape,
                                                         int32_t n_vocab);

}  // namespace surge::engine
