// GgufFile is one parsed GGUF file (v2 or v3): its metadata, owned and
// indexed by key, and its tensor table, whose data stays in the file's
// read-only private mapping (weights are served from it, never copied).
//
// Model: Open() maps the file and parses everything but the tensor data up
// front, so once it returns OK every accessor is cheap and every tensor's
// bytes [offset, offset + size_bytes) are known to lie inside the file.
// Ownership: Open() owns the mapping (unmapped by the destructor; as with
// any mapping, another process truncating the file meanwhile means SIGBUS);
// FromBuffer() borrows bytes that must outlive the GgufFile. TensorData()
// pointers live as long as the GgufFile.
// Thread safety: immutable after construction; safe to share between threads.
// Errors: files are untrusted. Every read is bounds-checked and every count is
// checked against the bytes left before anything is allocated; a bad file
// gives an InvalidArgument status naming the byte offset and what was wrong
// (callers prepend the path). Typed getters return NotFound for a missing key
// and InvalidArgument for a value of the wrong type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/status.h"
#include "engine/model/gguf_types.h"

namespace surge::engine::model {

class GgufFile {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GgufFile>> FromBuffer(std::string_view bytes);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  // --- Metadata ---
  bool Has(std::string_view key) const { return kv_index_.contains(key); }
  const GgufValue* Find(std::string_view key) const;  // nullptr if absent
  [[nodiscard]] absl::StatusOr<std::string> GetString(std::string_view key) const;
  // Any integer type whose value fits.
  [[nodiscard]] absl::StatusOr<uint32_t> GetUint32(std::string_view key) const;
  [[nodiscard]] absl::StatusOr<int64_t> GetInt64(std::string_view key) const;
  // float32 or float64 (narrowed).
  [[nodiscard]] absl::StatusOr<float> GetFloat32(std::string_view key) const;
  [[nodiscard]] absl::StatusOr<bool> GetBool(std::string_view key) const;
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  // Arrays of float32 or float64.
  [[nodiscard]] absl::StatusOr<std::vector<float>> GetFloat32Array(std::string_view key) const;
  // Arrays of any integer type whose every element fits in int32.
  [[nodiscard]] absl::StatusOr<std::vector<int32_t>> GetInt32Array(std::string_view key) const;
  // Element count of an array value, without copying it.
  [[nodiscard]] absl::StatusOr<size_t> GetArraySize(std::string_view key) const;

  // All key/value pairs in file order (for `surge model info` and for copying
  // metadata into a new file); render values with FormatGgufValue().
  const std::vector<GgufKv>& metadata() const { return kvs_; }

  // --- Tensors ---
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;  // nullptr if absent
  // First byte of the tensor's data; size_bytes bytes are readable. Aligned to
  // alignment() relative to the start of the file (a mapping is page aligned;
  // a FromBuffer() buffer may not be).
  const uint8_t* TensorData(const GgufTensorInfo& t) const { return base_ + t.offset; }

  uint64_t file_bytes() const { return size_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

 private:
  class Parser;
  GgufFile() = default;
  absl::StatusOr<const GgufValue*> Lookup(std::string_view key) const;

  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // set when Open() mapped the file
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  absl::flat_hash_map<std::string_view, size_t> kv_index_;  // views into kvs_[i].key
  std::vector<GgufTensorInfo> tensors_;
  absl::flat_hash_map<std::string_view, size_t> tensor_index_;  // views into tensors_[i].name
};

}  // namespace surge::engine::model
