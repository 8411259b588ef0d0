#include "engine/model/gguf_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace surge::engine::model {
namespace {

// Debian's Abseil has its own string_view, which StrCat wants.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A name from the file, made safe to print: bytes outside printable ASCII
// escaped, cut at 80 characters.
std::string Shown(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size() && i < 80; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  if (name.size() > 80) out += "...";
  return out;
}

}  // namespace

// Reads one file front to back. Every read goes through Need(), which fails
// instead of reading past the end; every count is checked against Left()
// before a container grows.
class GgufFile::Parser {
 public:
  explicit Parser(GgufFile& f) : f_(f), p_(f.base_), size_(f.size_) {}

  absl::Status Parse() {
    SURGE_RETURN_IF_ERROR(ParseHeader());
    for (uint64_t i = 0; i < n_kv_; ++i) SURGE_RETURN_IF_ERROR(ParseKv(i));
    SURGE_RETURN_IF_ERROR(ParseAlignment());
    for (uint64_t i = 0; i < n_tensors_; ++i) SURGE_RETURN_IF_ERROR(ParseTensorInfo(i));
    return PlaceTensors();
  }

 private:
  uint64_t Left() const { return size_ - pos_; }

  absl::Status Fail(uint64_t offset, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("gguf: at offset ", offset, ": ", what));
  }

  absl::Status Need(uint64_t n, absl::string_view what) const {
    if (n <= Left()) return absl::OkStatus();
    return Fail(pos_, absl::StrCat("file ends while reading ", what, " (need ", n, " bytes, ",
                                   Left(), " left of ", size_, ")"));
  }

  template <typename T>
  absl::StatusOr<T> Read(absl::string_view what) {
    SURGE_RETURN_IF_ERROR(Need(sizeof(T), what));
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // `label()` names the string in messages; it only runs on failure, so
  // reading 150k token strings builds no message text.
  template <typename LabelFn>
  absl::StatusOr<std::string> ReadString(const LabelFn& label) {
    uint64_t at = pos_;
    if (Left() < 8) return Need(8, label());
    uint64_t len;
    std::memcpy(&len, p_ + pos_, 8);
    pos_ += 8;
    if (len > Left()) {
      return Fail(at, absl::StrCat(label(), " claims ", len, " bytes but only ", Left(),
                                   " bytes are left in the file"));
    }
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }

  absl::Status ParseHeader() {
    if (size_ < 4) return Fail(0, absl::StrCat("file is ", size_, " bytes, too small for GGUF"));
    if (std::memcmp(p_, "GGUF", 4) != 0) {
      uint32_t magic = 0;
      std::memcpy(&magic, p_, 4);
      return Fail(0, absl::StrFormat("bad magic 0x%08x, not a GGUF file", magic));
    }
    pos_ = 4;
    SURGE_ASSIGN_OR_RETURN(f_.version_, Read<uint32_t>("version"));
    if (f_.version_ == 1) {
      return Fail(4, "GGUF version 1 is not supported (only 2 and 3); re-convert the model");
    }
    if (f_.version_ == 0x02000000 || f_.version_ == 0x03000000) {
      return Fail(4, "big-endian GGUF files are not supported");
    }
    if (f_.version_ != 2 && f_.version_ != 3) {
      return Fail(4, absl::StrCat("unsupported GGUF version ", f_.version_, " (expected 2 or 3)"));
    }
    SURGE_ASSIGN_OR_RETURN(n_tensors_, Read<uint64_t>("tensor count"));
    SURGE_ASSIGN_OR_RETURN(n_kv_, Read<uint64_t>("metadata count"));
    // Smallest encodings: a kv is key length + type + 1-byte value; a tensor
    // info is name length + n_dims + one dim + type + offset.
    constexpr uint64_t kMinKv = 8 + 4 + 1, kMinTensor = 8 + 4 + 8 + 4 + 8;
    if (n_kv_ > Left() / kMinKv || n_tensors_ > Left() / kMinTensor ||
        n_kv_ * kMinKv + n_tensors_ * kMinTensor > Left()) {
      return Fail(8,
                  absl::StrCat("header claims ", n_tensors_, " tensors and ", n_kv_,
                               " metadata entries, more than the ", size_, "-byte file can hold"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseKv(uint64_t i) {
    uint64_t at = pos_;
    GgufKv kv;
    SURGE_ASSIGN_OR_RETURN(kv.key,
                           ReadString([i] { return absl::StrCat("key of metadata entry ", i); }));
    SURGE_ASSIGN_OR_RETURN(uint32_t type, Read<uint32_t>("metadata value type"));
    SURGE_ASSIGN_OR_RETURN(kv.value, ReadValue(static_cast<GgufType>(type), Shown(kv.key)));
    key_offsets_.push_back(at);
    f_.kvs_.push_back(std::move(kv));
    return absl::OkStatus();
  }

  absl::StatusOr<GgufValue> ReadValue(GgufType type, const std::string& key) {
    uint64_t at = pos_;
    GgufValue v;
    v.type = type;
    if (type == GgufType::kString) {
      SURGE_ASSIGN_OR_RETURN(
          v.str, ReadString([&] { return absl::StrCat("string value of '", key, "'"); }));
      return v;
    }
    if (type == GgufType::kArray) return ReadArray(key);
    size_t n = GgufTypeSize(type);
    if (n == 0) {
      return Fail(at - 4, absl::StrCat("metadata '", key, "' has unknown value type ",
                                       static_cast<uint32_t>(type), " (valid: 0..12)"));
    }
    SURGE_RETURN_IF_ERROR(Need(n, absl::StrCat("value of '", key, "'")));
    std::memcpy(&v.bits, p_ + pos_, n);
    pos_ += n;
    if (type == GgufType::kBool && v.bits > 1) {
      return Fail(at, absl::StrCat("bool '", key, "' has value ", v.bits, " (must be 0 or 1)"));
    }
    return v;
  }

  absl::StatusOr<GgufValue> ReadArray(const std::string& key) {
    uint64_t at = pos_;
    GgufValue v;
    v.type = GgufType::kArray;
    SURGE_ASSIGN_OR_RETURN(uint32_t elem, Read<uint32_t>("array element type"));
    v.elem_type = static_cast<GgufType>(elem);
    SURGE_ASSIGN_OR_RETURN(uint64_t len, Read<uint64_t>("array length"));
    if (v.elem_type == GgufType::kArray) {
      return Fail(at, absl::StrCat("array '", key, "' nests arrays, which is not supported"));
    }
    size_t elem_size = GgufTypeSize(v.elem_type);
    uint64_t min_size = v.elem_type == GgufType::kString ? 8 : elem_size;
    if (min_size == 0) {
      return Fail(at, absl::StrCat("array '", key, "' has unknown element type ", elem));
    }
    if (len > Left() / min_size) {
      return Fail(at, absl::StrCat("array '", key, "' claims ", len, " elements of ",
                                   Sv(GgufTypeName(v.elem_type)), " but only ", Left(),
                                   " bytes are left in the file"));
    }
    if (v.elem_type != GgufType::kString) {
      v.elem_bytes.assign(reinterpret_cast<const char*>(p_ + pos_), len * elem_size);
      pos_ += len * elem_size;
      return v;
    }
    for (uint64_t j = 0; j < len; ++j) {
      SURGE_ASSIGN_OR_RETURN(std::string s, ReadString([&] {
                               return absl::StrCat("element ", j, " of array '", key, "'");
                             }));
      v.strings.push_back(std::move(s));
    }
    return v;
  }

  absl::Status ParseAlignment() {
    for (size_t i = 0; i < f_.kvs_.size(); ++i) {
      if (f_.kvs_[i].key != "general.alignment") continue;
      std::optional<uint64_t> a = f_.kvs_[i].value.AsUint64();
      if (!a || *a == 0 || *a > (1u << 30) || (*a & (*a - 1)) != 0) {
        return Fail(key_offsets_[i],
                    absl::StrCat("general.alignment = ", FormatGgufValue(f_.kvs_[i].value),
                                 " is not a power of two up to 2^30"));
      }
      f_.alignment_ = static_cast<uint32_t>(*a);
    }
    return absl::OkStatus();
  }

  absl::Status ParseTensorInfo(uint64_t i) {
    uint64_t at = pos_;
    GgufTensorInfo t;
    SURGE_ASSIGN_OR_RETURN(t.name, ReadString([i] { return absl::StrCat("name of tensor ", i); }));
    auto bad = [&](absl::string_view what) {
      return Fail(at, absl::StrCat("tensor '", Shown(t.name), "' ", what));
    };
    SURGE_ASSIGN_OR_RETURN(uint32_t n_dims, Read<uint32_t>("tensor n_dims"));
    if (n_dims < 1 || n_dims > kGgufMaxDims) {
      return bad(absl::StrCat("has ", n_dims, " dimensions (must be 1..", kGgufMaxDims, ")"));
    }
    t.num_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      SURGE_ASSIGN_OR_RETURN(uint64_t dim, Read<uint64_t>("tensor dimension"));
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(t.num_elements, static_cast<int64_t>(dim), &t.num_elements)) {
        return bad(absl::StrCat("dimension ", d, " = ", dim,
                                dim == 0 ? " is zero" : " makes the element count overflow"));
      }
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    SURGE_ASSIGN_OR_RETURN(uint32_t type, Read<uint32_t>("tensor type"));
    std::optional<kernels::DTypeTraits> traits = kernels::TraitsOf(type);
    if (!traits) return bad(absl::StrCat("has unsupported tensor type id ", type));
    t.type = static_cast<kernels::DType>(type);
    if (t.dims[0] % traits->block_size != 0) {
      return bad(absl::StrCat("has rows of ", t.dims[0], " elements, not a multiple of the ",
                              Sv(traits->name), " block size ", traits->block_size));
    }
    uint64_t blocks = static_cast<uint64_t>(t.num_elements / traits->block_size);
    if (__builtin_mul_overflow(blocks, static_cast<uint64_t>(traits->type_size), &t.size_bytes) ||
        t.size_bytes > size_) {
      return bad(absl::StrCat("needs more data than the ", size_, "-byte file holds (",
                              t.num_elements, " ", Sv(traits->name), " elements)"));
    }
    SURGE_ASSIGN_OR_RETURN(t.offset, Read<uint64_t>("tensor offset"));
    if (t.offset % f_.alignment_ != 0) {
      return bad(absl::StrCat("data offset ", t.offset, " is not a multiple of the alignment ",
                              f_.alignment_));
    }
    tensor_offsets_.push_back(at);
    f_.tensors_.push_back(std::move(t));
    return absl::OkStatus();
  }

  // Turns relative offsets into absolute ones, checks ranges, builds indexes.
  absl::Status PlaceTensors() {
    uint64_t a = f_.alignment_;
    f_.data_offset_ = (pos_ + a - 1) / a * a;  // pos_ <= size_ < 2^64 - 2^30
    for (size_t i = 0; i < f_.tensors_.size(); ++i) {
      GgufTensorInfo& t = f_.tensors_[i];
      uint64_t rel = t.offset, end = 0;
      if (__builtin_add_overflow(f_.data_offset_, rel, &t.offset)) {
        return Fail(tensor_offsets_[i],
                    absl::StrCat("tensor '", Shown(t.name), "' data offset ", rel, " overflows"));
      }
      if (__builtin_add_overflow(t.offset, t.size_bytes, &end) || end > size_) {
        return Fail(
            tensor_offsets_[i],
            absl::StrCat("tensor '", Shown(t.name), "' data [offset ", t.offset, ", ", t.size_bytes,
                         " bytes] runs past end of file (", size_, " bytes)"));
      }
    }
    for (size_t i = 0; i < f_.kvs_.size(); ++i) {
      if (!f_.kv_index_.emplace(f_.kvs_[i].key, i).second) {
        return Fail(key_offsets_[i],
                    absl::StrCat("duplicate metadata key '", Shown(f_.kvs_[i].key), "'"));
      }
    }
    for (size_t i = 0; i < f_.tensors_.size(); ++i) {
      if (!f_.tensor_index_.emplace(f_.tensors_[i].name, i).second) {
        return Fail(tensor_offsets_[i],
                    absl::StrCat("duplicate tensor name '", Shown(f_.tensors_[i].name), "'"));
      }
    }
    return absl::OkStatus();
  }

  GgufFile& f_;
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0, n_kv_ = 0;
  std::vector<uint64_t> key_offsets_, tensor_offsets_;  // where each entry starts
};

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(std::string_view bytes) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->base_ = reinterpret_cast<const uint8_t*>(bytes.data());
  f->size_ = bytes.size();
  SURGE_RETURN_IF_ERROR(Parser(*f).Parse());
  return f;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("gguf: cannot open: ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError("gguf: not a regular file");
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ > 0) {
    void* m = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("gguf: mmap failed: ", std::strerror(err)));
    }
    f->mapping_ = m;
    f->base_ = static_cast<const uint8_t*>(m);
  }
  ::close(fd);
  static const uint8_t kEmpty = 0;
  if (f->base_ == nullptr) f->base_ = &kEmpty;
  SURGE_RETURN_IF_ERROR(Parser(*f).Parse());
  return f;
}

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

absl::Status WrongType(std::string_view key, const GgufValue& v, absl::string_view expected) {
  std::string actual(GgufTypeName(v.type));
  if (v.type == GgufType::kArray) actual = absl::StrCat("array of ", Sv(GgufTypeName(v.elem_type)));
  return absl::InvalidArgumentError(absl::StrCat("gguf: metadata '", Sv(key), "' is ", actual, " ",
                                                 FormatGgufValue(v, 4, 32), ", expected ",
                                                 expected));
}

}  // namespace

absl::StatusOr<const GgufValue*> GgufFile::Lookup(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr)
    return absl::NotFoundError(absl::StrCat("gguf: metadata '", Sv(key), "' missing"));
  return v;
}

absl::StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  if (v->type != GgufType::kString) return WrongType(key, *v, "a string");
  return v->str;
}

absl::StatusOr<uint32_t> GgufFile::GetUint32(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  std::optional<uint64_t> u = v->AsUint64();
  if (!u || *u > std::numeric_limits<uint32_t>::max()) {
    return WrongType(key, *v, "an integer in 0..2^32-1");
  }
  return static_cast<uint32_t>(*u);
}

absl::StatusOr<int64_t> GgufFile::GetInt64(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  std::optional<int64_t> i = v->AsInt64();
  if (!i) return WrongType(key, *v, "an integer that fits in int64");
  return *i;
}

absl::StatusOr<float> GgufFile::GetFloat32(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  std::optional<double> d = v->AsDouble();
  if (!d) return WrongType(key, *v, "float32 or float64");
  return static_cast<float>(*d);
}

absl::StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  if (v->type != GgufType::kBool) return WrongType(key, *v, "bool");
  return v->bits != 0;
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) {
    return WrongType(key, *v, "array of string");
  }
  return v->strings;
}

absl::StatusOr<std::vector<float>> GgufFile::GetFloat32Array(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  if (v->type != GgufType::kArray ||
      (v->elem_type != GgufType::kFloat32 && v->elem_type != GgufType::kFloat64)) {
    return WrongType(key, *v, "array of float32 or float64");
  }
  std::vector<float> out(v->array_size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(*v->AsDouble(i));
  return out;
}

absl::StatusOr<std::vector<int32_t>> GgufFile::GetInt32Array(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  if (v->type != GgufType::kArray || !GgufTypeIsInteger(v->elem_type)) {
    return WrongType(key, *v, "array of integers");
  }
  std::vector<int32_t> out(v->array_size());
  for (size_t i = 0; i < out.size(); ++i) {
    std::optional<int64_t> x = v->AsInt64(i);
    if (!x || *x < std::numeric_limits<int32_t>::min() ||
        *x > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat("gguf: metadata '", Sv(key), "' element ", i, " does not fit in int32"));
    }
    out[i] = static_cast<int32_t>(*x);
  }
  return out;
}

absl::StatusOr<size_t> GgufFile::GetArraySize(std::string_view key) const {
  SURGE_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(key));
  if (v->type != GgufType::kArray) return WrongType(key, *v, "an array");
  return v->array_size();
}

}  // namespace surge::engine::model
