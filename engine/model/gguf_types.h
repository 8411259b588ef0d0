// The vocabulary shared by the GGUF reader and writer: metadata value types
// (numbered as the file format numbers them), one owned metadata value, and
// the description of one tensor.
//
// GGUF layout (v2/v3, little-endian): "GGUF" magic, u32 version, u64 tensor
// count, u64 metadata count; the metadata key/value pairs; the tensor infos
// (name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset into the data
// section); padding to `general.alignment` (default 32); the data section.
//
// Thread safety: plain values; safe to read from many threads.
// (Out-of-line parts live in gguf_types.cc.)
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "engine/kernels/dtype.h"

namespace surge::engine::model {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxDims = 4;

enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// "uint32", "string", ...; "unknown" for an id outside 0..12.
std::string_view GgufTypeName(GgufType type);

// Bytes of one element of a fixed-size type; 0 for kString and kArray (and
// for ids outside 0..12).
inline size_t GgufTypeSize(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

inline bool GgufTypeIsInteger(GgufType t) {
  return GgufTypeSize(t) > 0 && t != GgufType::kBool && t != GgufType::kFloat32 &&
         t != GgufType::kFloat64;
}

// One metadata value, owned (it outlives the file it was read from).
//
// Scalars of fixed size keep their little-endian bits in `bits` (zero-
// extended); strings keep their bytes in `str`. Arrays are one level deep:
// `elem_type` is any type but kArray; fixed-size elements are packed in
// `elem_bytes` exactly as in the file, string elements live in `strings`.
// Packing keeps a hostile 10^8-element array at file size, not 40x that.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  uint64_t bits = 0;
  std::string str;
  GgufType elem_type = GgufType::kUint8;
  std::string elem_bytes;
  std::vector<std::string> strings;

  // Elements of an array (0 for a scalar).
  size_t array_size() const {
    if (type != GgufType::kArray) return 0;
    if (elem_type == GgufType::kString) return strings.size();
    size_t s = GgufTypeSize(elem_type);
    return s == 0 ? 0 : elem_bytes.size() / s;
  }

  // Integer value of a scalar integer (or of array element `i` when `i` is
  // given); std::nullopt when it is not an integer type. Unsigned 64-bit
  // values above INT64_MAX come back through `AsUint64` only.
  std::optional<int64_t> AsInt64(std::optional<size_t> i = std::nullopt) const;
  std::optional<uint64_t> AsUint64(std::optional<size_t> i = std::nullopt) const;
  // Value of a float32/float64 scalar (or array element).
  std::optional<double> AsDouble(std::optional<size_t> i = std::nullopt) const;

  template <typename T>
  static GgufValue Scalar(GgufType type, T v) {
    static_assert(sizeof(T) <= 8);
    GgufValue out;
    out.type = type;
    std::memcpy(&out.bits, &v, sizeof(T));
    return out;
  }
  static GgufValue String(std::string s) {
    GgufValue out;
    out.type = GgufType::kString;
    out.str = std::move(s);
    return out;
  }
  // An array of fixed-size elements of C++ type T stored as `elem`.
  template <typename T>
  static GgufValue Array(GgufType elem, const std::vector<T>& v) {
    SURGE_CHECK_MSG(sizeof(T) == GgufTypeSize(elem), "GgufValue::Array: element size mismatch");
    GgufValue out;
    out.type = GgufType::kArray;
    out.elem_type = elem;
    out.elem_bytes.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(out.elem_bytes.data(), v.data(), out.elem_bytes.size());
    return out;
  }
  static GgufValue StringArray(std::vector<std::string> v) {
    GgufValue out;
    out.type = GgufType::kArray;
    out.elem_type = GgufType::kString;
    out.strings = std::move(v);
    return out;
  }
};

// A short printable rendering of a value for listings: numbers as numbers,
// strings quoted and cut at `max_chars` with non-printable bytes escaped,
// arrays as "[a, b, c, ... (N uint32)]" with at most `max_items` items shown.
std::string FormatGgufValue(const GgufValue& v, size_t max_items = 8, size_t max_chars = 64);

struct GgufKv {
  std::string key;
  GgufValue value;
};

// One tensor of a file. `dims` are in GGUF order: dims[0] is the contiguous
// (innermost) dimension, so a [rows x cols] matrix has dims {cols, rows}.
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;
  kernels::DType type = kernels::DType::kF32;
  uint64_t offset = 0;  // absolute byte offset in the file (data_offset() + stored offset)
  uint64_t size_bytes = 0;
  int64_t num_elements = 0;
};

}  // namespace surge::engine::model
