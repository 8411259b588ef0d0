// Tensor element types, numbered as GGUF/GGML number them, with their block
// layouts. Quantized types store `block_size` elements in `type_size` bytes.
//
// Thread safety: pure functions and constants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace surge::engine::kernels {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ8_0 = 8,
  kBF16 = 30,
};

inline constexpr int kQK = 32;  // elements per Q8_0 / Q4_0 block

// Q8_0: 32 signed bytes scaled by one fp16 `d`: x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // fp16 bits
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: 32 nibbles scaled by one fp16 `d`: x[i] = d * (q[i] - 8). Byte j holds
// element j in its low nibble and element j + 16 in its high nibble.
struct BlockQ4_0 {
  uint16_t d;  // fp16 bits
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

struct DTypeTraits {
  std::string_view name;  // "f32", "q8_0", ...
  int64_t block_size;     // elements per block (1 for plain types)
  int64_t type_size;      // bytes per block
};

// Traits of a supported type; std::nullopt for a GGML type id Surge does not
// support (callers turn that into an error naming the id).
std::optional<DTypeTraits> TraitsOf(uint32_t ggml_type);
DTypeTraits Traits(DType type);                             // for a valid DType
std::optional<DType> DTypeFromName(std::string_view name);  // "q8_0" -> kQ8_0

// Bytes taken by `n` elements of `type`; n must be a multiple of the block size.
inline int64_t RowBytes(DType type, int64_t n) {
  DTypeTraits t = Traits(type);
  return n / t.block_size * t.type_size;
}

}  // namespace surge::engine::kernels
