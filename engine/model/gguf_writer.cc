#include "engine/model/gguf_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"

namespace surge::engine::model {
namespace {

template <typename T>
void Put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void PutString(std::string& out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out.append(s);
}

void PutValue(std::string& out, const GgufValue& v) {
  Put<uint32_t>(out, static_cast<uint32_t>(v.type));
  if (v.type == GgufType::kString) {
    PutString(out, v.str);
  } else if (v.type == GgufType::kArray) {
    Put<uint32_t>(out, static_cast<uint32_t>(v.elem_type));
    Put<uint64_t>(out, v.array_size());
    if (v.elem_type == GgufType::kString) {
      for (const std::string& s : v.strings) PutString(out, s);
    } else {
      out.append(v.elem_bytes.data(), v.array_size() * GgufTypeSize(v.elem_type));
    }
  } else {
    char b[8];
    std::memcpy(b, &v.bits, 8);
    out.append(b, GgufTypeSize(v.type));
  }
}

uint64_t AlignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

std::string DimsString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

}  // namespace

void GgufWriter::SetValue(const std::string& key, GgufValue v) {
  auto [it, inserted] = kv_index_.emplace(key, kvs_.size());
  if (inserted) {
    kvs_.push_back(GgufKv{key, std::move(v)});
  } else {
    kvs_[it->second].value = std::move(v);
  }
}

void GgufWriter::Remove(const std::string& key) {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return;
  kvs_.erase(kvs_.begin() + static_cast<ptrdiff_t>(it->second));
  kv_index_.clear();
  for (size_t i = 0; i < kvs_.size(); ++i) kv_index_.emplace(kvs_[i].key, i);
}

void GgufWriter::SetString(const std::string& key, std::string v) {
  SetValue(key, GgufValue::String(std::move(v)));
}
void GgufWriter::SetUint32(const std::string& key, uint32_t v) {
  SetValue(key, GgufValue::Scalar(GgufType::kUint32, v));
}
void GgufWriter::SetInt32(const std::string& key, int32_t v) {
  SetValue(key, GgufValue::Scalar(GgufType::kInt32, v));
}
void GgufWriter::SetUint64(const std::string& key, uint64_t v) {
  SetValue(key, GgufValue::Scalar(GgufType::kUint64, v));
}
void GgufWriter::SetFloat32(const std::string& key, float v) {
  SetValue(key, GgufValue::Scalar(GgufType::kFloat32, v));
}
void GgufWriter::SetBool(const std::string& key, bool v) {
  SetValue(key, GgufValue::Scalar(GgufType::kBool, static_cast<uint8_t>(v ? 1 : 0)));
}
void GgufWriter::SetStringArray(const std::string& key, std::vector<std::string> v) {
  SetValue(key, GgufValue::StringArray(std::move(v)));
}
void GgufWriter::SetFloat32Array(const std::string& key, const std::vector<float>& v) {
  SetValue(key, GgufValue::Array(GgufType::kFloat32, v));
}
void GgufWriter::SetInt32Array(const std::string& key, const std::vector<int32_t>& v) {
  SetValue(key, GgufValue::Array(GgufType::kInt32, v));
}

absl::StatusOr<GgufWriter::Tensor> GgufWriter::NewTensor(const std::string& name,
                                                         std::vector<int64_t> dims,
                                                         kernels::DType type) const {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("gguf writer: tensor '", name, "' ", what));
  };
  if (name.empty() || name.size() >= 64) return bad("name must be 1..63 bytes");
  if (tensor_index_.contains(name)) return bad("is added twice");
  std::optional<kernels::DTypeTraits> traits = kernels::TraitsOf(static_cast<uint32_t>(type));
  if (!traits) return bad(absl::StrCat("has unsupported type ", static_cast<uint32_t>(type)));
  if (dims.empty() || dims.size() > kGgufMaxDims) return bad("must have 1..4 dimensions");
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d <= 0 || __builtin_mul_overflow(n, d, &n)) {
      return bad(absl::StrCat("has bad shape ", DimsString(dims)));
    }
  }
  if (dims[0] % traits->block_size != 0) {
    return bad(absl::StrCat("shape ", DimsString(dims), ": rows are not whole ",
                            absl::string_view(traits->name.data(), traits->name.size()),
                            " blocks of ", traits->block_size));
  }
  Tensor t;
  t.name = name;
  t.dims = std::move(dims);
  t.type = type;
  t.size_bytes = static_cast<uint64_t>(n / traits->block_size * traits->type_size);
  return t;
}

absl::Status GgufWriter::AddTensor(const std::string& name, std::vector<int64_t> dims,
                                   kernels::DType type, std::string_view bytes) {
  SURGE_ASSIGN_OR_RETURN(Tensor t, NewTensor(name, std::move(dims), type));
  if (bytes.size() != t.size_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("gguf writer: tensor '", name, "' needs ",
                                                   t.size_bytes, " bytes, got ", bytes.size()));
  }
  t.bytes.assign(bytes);
  tensor_index_.emplace(name, tensors_.size());
  tensors_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status GgufWriter::AddTensorFn(const std::string& name, std::vector<int64_t> dims,
                                     kernels::DType type, Filler fill) {
  SURGE_ASSIGN_OR_RETURN(Tensor t, NewTensor(name, std::move(dims), type));
  t.fill = std::move(fill);
  tensor_index_.emplace(name, tensors_.size());
  tensors_.push_back(std::move(t));
  return absl::OkStatus();
}

uint32_t GgufWriter::Alignment() const {
  auto it = kv_index_.find("general.alignment");
  if (it == kv_index_.end()) return kGgufDefaultAlignment;
  std::optional<uint64_t> a = kvs_[it->second].value.AsUint64();
  // The reader rejects anything else; writing it would make an unreadable file.
  SURGE_CHECK_MSG(a && *a > 0 && *a <= (1u << 30) && (*a & (*a - 1)) == 0,
                  "general.alignment must be a power of two");
  return static_cast<uint32_t>(*a);
}

std::string GgufWriter::Header() const {
  const uint32_t align = Alignment();
  std::string out;
  Put<uint32_t>(out, kGgufMagic);
  Put<uint32_t>(out, 3);
  Put<uint64_t>(out, tensors_.size());
  Put<uint64_t>(out, kvs_.size());
  for (const GgufKv& kv : kvs_) {
    PutString(out, kv.key);
    PutValue(out, kv.value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(out, t.name);
    Put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) Put<uint64_t>(out, static_cast<uint64_t>(d));
    Put<uint32_t>(out, static_cast<uint32_t>(t.type));
    Put<uint64_t>(out, offset);
    offset += AlignUp(t.size_bytes, align);
  }
  out.resize(AlignUp(out.size(), align), '\0');
  return out;
}

absl::Status GgufWriter::Emit(const std::function<absl::Status(std::string_view)>& sink) const {
  const uint32_t align = Alignment();
  SURGE_RETURN_IF_ERROR(sink(Header()));
  std::string buf;
  const std::string zeros(align, '\0');
  for (const Tensor& t : tensors_) {
    if (t.fill) {
      buf.assign(t.size_bytes, '\0');
      absl::Status s =
          t.fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), buf.size()));
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat("tensor '", t.name, "': ", s.message()));
      }
      SURGE_RETURN_IF_ERROR(sink(buf));
    } else {
      SURGE_RETURN_IF_ERROR(sink(t.bytes));
    }
    uint64_t pad = AlignUp(t.size_bytes, align) - t.size_bytes;
    SURGE_RETURN_IF_ERROR(sink(std::string_view(zeros).substr(0, pad)));
  }
  return absl::OkStatus();
}

std::string GgufWriter::WriteToString() const {
  std::string out;
  absl::Status s = Emit([&](std::string_view b) {
    out.append(b);
    return absl::OkStatus();
  });
  SURGE_CHECK_MSG(s.ok(), "a tensor filler failed in WriteToString()");
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("gguf writer: cannot create ", tmp, ": ", std::strerror(errno)));
  }
  auto io_error = [&](absl::string_view what) {
    return absl::InternalError(
        absl::StrCat("gguf writer: ", what, " ", tmp, ": ", std::strerror(errno)));
  };
  absl::Status s = Emit([&](std::string_view b) {
    if (!b.empty() && std::fwrite(b.data(), 1, b.size(), f) != b.size()) {
      return io_error("cannot write");
    }
    return absl::OkStatus();
  });
  if (s.ok() && (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0)) s = io_error("cannot flush");
  if (std::fclose(f) != 0 && s.ok()) s = io_error("cannot close");
  if (s.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    s = absl::InternalError(
        absl::StrCat("gguf writer: cannot rename ", tmp, " to ", path, ": ", std::strerror(errno)));
  }
  if (!s.ok()) std::remove(tmp.c_str());
  return s;
}

}  // namespace surge::engine::model
