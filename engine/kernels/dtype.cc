#include "engine/kernels/dtype.h"

namespace surge::engine::kernels {

std::optional<DTypeTraits> TraitsOf(uint32_t ggml_type) {
  switch (static_cast<DType>(ggml_type)) {
    case DType::kF32:
      return DTypeTraits{"f32", 1, 4};
    case DType::kF16:
      return DTypeTraits{"f16", 1, 2};
    case DType::kBF16:
      return DTypeTraits{"bf16", 1, 2};
    case DType::kQ8_0:
      return DTypeTraits{"q8_0", kQK, sizeof(BlockQ8_0)};
    case DType::kQ4_0:
      return DTypeTraits{"q4_0", kQK, sizeof(BlockQ4_0)};
  }
  return std::nullopt;
}

DTypeTraits Traits(DType type) { return *TraitsOf(static_cast<uint32_t>(type)); }

std::optional<DType> DTypeFromName(std::string_view name) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    if (Traits(t).name == name) return t;
  }
  return std::nullopt;
}

}  // namespace surge::engine::kernels
