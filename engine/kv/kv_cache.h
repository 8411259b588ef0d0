// KvCache is the memory of the paged KV cache of one model: for every layer a
// K and a V array of num_blocks() blocks, each block holding block_size()
// token slots for every KV head, as fp16. It is allocated once, at start;
// memory never grows with traffic. Which blocks belong to which sequence is
// decided elsewhere (BlockPool); a sequence's block table maps its positions
// to blocks: position p lives in block table[p / block_size], slot
// p % block_size.
//
// Layout of one layer (matches kernels::PagedKv):
//   [block][kv_head][slot][head_dim]
//
// Ownership: owned by the engine; the runner writes and reads it.
// Thread safety: confined to the engine loop (the runner's compute pool
// writes disjoint slots during a step).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace surge::engine::kv {

struct KvCacheShape {
  int32_t n_layers = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 16;
  int32_t num_blocks = 0;

  // Bytes of K and V for one block across all layers.
  int64_t bytes_per_block() const {
    return 2LL * n_layers * n_kv_heads * block_size * head_dim *
           static_cast<int64_t>(sizeof(uint16_t));
  }
};

class KvCache {
 public:
  explicit KvCache(const KvCacheShape& shape);

  const KvCacheShape& shape() const { return shape_; }
  int32_t num_blocks() const { return shape_.num_blocks; }
  int32_t block_size() const { return shape_.block_size; }
  int64_t bytes() const { return shape_.bytes_per_block() * shape_.num_blocks; }

  uint16_t* k(int layer) { return k_.get() + layer * layer_elems_; }
  uint16_t* v(int layer) { return v_.get() + layer * layer_elems_; }

  // Element offset of (block, kv_head, slot) within one layer.
  int64_t Offset(int32_t block, int32_t kv_head, int32_t slot) const {
    return ((static_cast<int64_t>(block) * shape_.n_kv_heads + kv_head) * shape_.block_size +
            slot) *
           shape_.head_dim;
  }

 private:
  KvCacheShape shape_;
  int64_t layer_elems_ = 0;
  std::unique_ptr<uint16_t[]> k_;
  std::unique_ptr<uint16_t[]> v_;
};

}  // namespace surge::engine::kv
