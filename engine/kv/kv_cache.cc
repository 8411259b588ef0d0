#include "engine/kv/kv_cache.h"

#include "base/check.h"

namespace surge::engine::kv {

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
  SURGE_CHECK(shape.n_layers > 0 && shape.n_kv_heads > 0 && shape.head_dim > 0);
  SURGE_CHECK(shape.block_size > 0 && shape.num_blocks > 0);
  layer_elems_ =
      static_cast<int64_t>(shape.num_blocks) * shape.n_kv_heads * shape.block_size * shape.head_dim;
  // Value-initialised: a fresh cache holds zeros, never stale memory.
  k_ = std::make_unique<uint16_t[]>(layer_elems_ * shape.n_layers);
  v_ = std::make_unique<uint16_t[]>(layer_elems_ * shape.n_layers);
}

}  // namespace surge::engine::kv
