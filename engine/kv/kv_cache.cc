#include "engine/kv/kv_cache.h"

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace surge::engine::kv {

std::string_view KvTypeName(KvType type) { return type == KvType::kF16 ? "f16" : "q8_0"; }

std::optional<KvType> KvTypeFromName(std::string_view name) {
  if (name == "f16") return KvType::kF16;
  if (name == "q8_0") return KvType::kQ8_0;
  return std::nullopt;
}

absl::Status CheckKvType(KvType type, int32_t head_dim) {
  if (type == KvType::kQ8_0 && (head_dim <= 0 || head_dim % 32 != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a q8_0 KV cache needs a head size that is a multiple of 32; this model's is ", head_dim));
  }
  return absl::OkStatus();
}

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
  SURGE_CHECK(shape.n_layers > 0 && shape.n_kv_heads > 0 && shape.head_dim > 0);
  SURGE_CHECK(shape.block_size > 0 && shape.num_blocks > 0);
  SURGE_CHECK(CheckKvType(shape.type, shape.head_dim).ok());
  layer_bytes_ = static_cast<int64_t>(shape.num_blocks) * shape.n_kv_heads * shape.block_size *
                 shape.row_bytes();
  // Value-initialised: a fresh cache holds zeros, never stale memory.
  k_ = std::make_unique<uint8_t[]>(layer_bytes_ * shape.n_layers);
  v_ = std::make_unique<uint8_t[]>(layer_bytes_ * shape.n_layers);
}

}  // namespace surge::engine::kv
