#include "engine/model/gguf_types.h"

#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"

namespace surge::engine::model {
namespace {

// Bits of the scalar, or of array element `i`, sign-extended for signed types.
bool ElementBits(const GgufValue& v, std::optional<size_t> i, GgufType* type, uint64_t* bits) {
  if (!i) {
    *type = v.type;
    *bits = v.bits;
  } else {
    if (v.type != GgufType::kArray || *i >= v.array_size()) return false;
    *type = v.elem_type;
    size_t n = GgufTypeSize(*type);
    *bits = 0;
    std::memcpy(bits, v.elem_bytes.data() + *i * n, n);
  }
  switch (*type) {
    case GgufType::kInt8:
      *bits = static_cast<uint64_t>(static_cast<int8_t>(*bits));
      break;
    case GgufType::kInt16:
      *bits = static_cast<uint64_t>(static_cast<int16_t>(*bits));
      break;
    case GgufType::kInt32:
      *bits = static_cast<uint64_t>(static_cast<int32_t>(*bits));
      break;
    default:
      break;
  }
  return true;
}

bool IsSigned(GgufType t) {
  return t == GgufType::kInt8 || t == GgufType::kInt16 || t == GgufType::kInt32 ||
         t == GgufType::kInt64;
}

std::string QuoteString(std::string_view s, size_t max_chars) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_chars; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  out += s.size() > max_chars ? "\"..." : "\"";
  return out;
}

std::string FormatElement(const GgufValue& v, std::optional<size_t> i, size_t max_chars) {
  GgufType t = i ? v.elem_type : v.type;
  if (t == GgufType::kString) return QuoteString(i ? v.strings[*i] : v.str, max_chars);
  if (t == GgufType::kBool) {
    GgufType ignored;
    uint64_t bits = 0;
    ElementBits(v, i, &ignored, &bits);
    return bits != 0 ? "true" : "false";
  }
  if (std::optional<double> d = v.AsDouble(i)) return absl::StrCat(*d);
  if (std::optional<int64_t> s = v.AsInt64(i)) return absl::StrCat(*s);
  if (std::optional<uint64_t> u = v.AsUint64(i)) return absl::StrCat(*u);
  return "?";
}

}  // namespace

std::string_view GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
      return "uint8";
    case GgufType::kInt8:
      return "int8";
    case GgufType::kUint16:
      return "uint16";
    case GgufType::kInt16:
      return "int16";
    case GgufType::kUint32:
      return "uint32";
    case GgufType::kInt32:
      return "int32";
    case GgufType::kFloat32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "uint64";
    case GgufType::kInt64:
      return "int64";
    case GgufType::kFloat64:
      return "float64";
  }
  return "unknown";
}

std::optional<int64_t> GgufValue::AsInt64(std::optional<size_t> i) const {
  GgufType t;
  uint64_t b;
  if (!ElementBits(*this, i, &t, &b) || !GgufTypeIsInteger(t)) return std::nullopt;
  if (!IsSigned(t) && b > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<int64_t>(b);
}

std::optional<uint64_t> GgufValue::AsUint64(std::optional<size_t> i) const {
  GgufType t;
  uint64_t b;
  if (!ElementBits(*this, i, &t, &b) || !GgufTypeIsInteger(t)) return std::nullopt;
  if (IsSigned(t) && static_cast<int64_t>(b) < 0) return std::nullopt;
  return b;
}

std::optional<double> GgufValue::AsDouble(std::optional<size_t> i) const {
  GgufType t;
  uint64_t b;
  if (!ElementBits(*this, i, &t, &b)) return std::nullopt;
  if (t == GgufType::kFloat32) {
    float f;
    uint32_t b32 = static_cast<uint32_t>(b);
    std::memcpy(&f, &b32, 4);
    return f;
  }
  if (t == GgufType::kFloat64) {
    double d;
    std::memcpy(&d, &b, 8);
    return d;
  }
  return std::nullopt;
}

std::string FormatGgufValue(const GgufValue& v, size_t max_items, size_t max_chars) {
  if (v.type != GgufType::kArray) return FormatElement(v, std::nullopt, max_chars);
  size_t n = v.array_size();
  std::string out = "[";
  for (size_t i = 0; i < n && i < max_items; ++i) {
    if (i > 0) out += ", ";
    out += FormatElement(v, i, max_chars);
  }
  if (n > max_items) {
    absl::StrAppend(
        &out, n > 0 && max_items > 0 ? ", ...] (" : "...] (", n, " ",
        absl::string_view(GgufTypeName(v.elem_type).data(), GgufTypeName(v.elem_type).size()), ")");
  } else {
    out += "]";
  }
  return out;
}

}  // namespace surge::engine::model
