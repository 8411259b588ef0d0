// KvCache is the memory of the paged KV cache of one model: for every layer a
// K and a V array of num_blocks() blocks, each block holding block_size()
// token slots for every KV head, each slot one row of head_dim values in the
// cache's type: fp16, or 8-bit Q8_0 blocks (GGUF's layout: an fp16 scale and
// 32 int8 values; about half the memory, for head_dim % 32 == 0). It is
// allocated once, at start; memory never grows with traffic. Which blocks
// belong to which sequence is decided elsewhere (BlockPool); a sequence's
// block table maps its positions to blocks: position p lives in block
// table[p / block_size], slot p % block_size.
//
// Layout of one layer (matches kernels::PagedKv): rows of row_bytes() at
//   [block][kv_head][slot]
//
// Ownership: owned by the engine; the runner writes and reads it.
// Thread safety: confined to the engine loop (the runner's compute pool
// writes disjoint slots during a step).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace surge::engine::kv {

// How K and V rows are stored.
enum class KvType : uint8_t { kF16, kQ8_0 };
std::string_view KvTypeName(KvType type);  // "f16", "q8_0"
std::optional<KvType> KvTypeFromName(std::string_view name);
// OK when rows of `type` can hold heads of head_dim values (Q8_0 rows: a
// multiple of 32); else InvalidArgument naming the model's head size.
[[nodiscard]] absl::Status CheckKvType(KvType type, int32_t head_dim);

struct KvCacheShape {
  int32_t n_layers = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 16;
  int32_t num_blocks = 0;
  KvType type = KvType::kF16;

  // Bytes of one row: one slot of one KV head.
  int64_t row_bytes() const { return type == KvType::kF16 ? 2LL * head_dim : head_dim / 32 * 34LL; }
  // Bytes of K and V for one block across all layers.
  int64_t bytes_per_block() const { return 2LL * n_layers * n_kv_heads * block_size * row_bytes(); }
};

class KvCache {
 public:
  explicit KvCache(const KvCacheShape& shape);

  const KvCacheShape& shape() const { return shape_; }
  int32_t num_blocks() const { return shape_.num_blocks; }
  int32_t block_size() const { return shape_.block_size; }
  int64_t bytes() const { return shape_.bytes_per_block() * shape_.num_blocks; }

  uint8_t* k(int layer) { return k_.get() + layer * layer_bytes_; }
  uint8_t* v(int layer) { return v_.get() + layer * layer_bytes_; }

  // Byte offset of the row (block, kv_head, slot) within one layer.
  int64_t Offset(int32_t block, int32_t kv_head, int32_t slot) const {
    return ((static_cast<int64_t>(block) * shape_.n_kv_heads + kv_head) * shape_.block_size +
            slot) *
           shape_.row_bytes();
  }

 private:
  KvCacheShape shape_;
  int64_t layer_bytes_ = 0;
  std::unique_ptr<uint8_t[]> k_;
  std::unique_ptr<uint8_t[]> v_;
};

}  // namespace surge::engine::kv
