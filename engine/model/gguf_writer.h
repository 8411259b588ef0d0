// GgufWriter builds a GGUF v3 file: metadata in insertion order, then tensor
// infos, then the tensor data, every tensor aligned to `general.alignment`
// (32 unless that key is set).
//
// Model: Set*() adds a key or replaces its value in place (order kept).
// Tensors are added with their bytes (copied) or with a filler that produces
// them while the file is written, so a large model streams through one
// tensor-sized buffer instead of being held in memory whole.
// Ownership: owns copies of everything added; fillers must stay callable
// until the write finishes.
// Thread safety: not thread-safe; one thread builds and writes.
// Errors: AddTensor*() rejects bad names, shapes and sizes; WriteFile()
// reports I/O errors and filler errors, and never leaves a partial file at
// `path` (it writes `path`.tmp.<pid> and renames it).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/status.h"
#include "engine/model/gguf_types.h"

namespace surge::engine::model {

class GgufWriter {
 public:
  // Fills `out` (exactly the tensor's size in bytes) with the tensor's data.
  using Filler = std::function<absl::Status(std::span<uint8_t> out)>;

  void SetString(const std::string& key, std::string v);
  void SetUint32(const std::string& key, uint32_t v);
  void SetInt32(const std::string& key, int32_t v);
  void SetUint64(const std::string& key, uint64_t v);
  void SetFloat32(const std::string& key, float v);
  void SetBool(const std::string& key, bool v);
  void SetStringArray(const std::string& key, std::vector<std::string> v);
  void SetFloat32Array(const std::string& key, const std::vector<float>& v);
  void SetInt32Array(const std::string& key, const std::vector<int32_t>& v);
  // Any value, e.g. one copied from a GgufFile.
  void SetValue(const std::string& key, GgufValue v);
  void Remove(const std::string& key);
  const std::vector<GgufKv>& metadata() const { return kvs_; }

  // `dims` in GGUF order (dims[0] innermost), 1..4 of them, each > 0;
  // dims[0] a multiple of the type's block size; `bytes` exactly the size.
  // Names must be unique and shorter than 64 bytes (llama.cpp's limit).
  [[nodiscard]] absl::Status AddTensor(const std::string& name, std::vector<int64_t> dims,
                                       kernels::DType type, std::string_view bytes);
  [[nodiscard]] absl::Status AddTensorFn(const std::string& name, std::vector<int64_t> dims,
                                         kernels::DType type, Filler fill);
  size_t num_tensors() const { return tensors_.size(); }

  [[nodiscard]] absl::Status WriteFile(const std::string& path) const;
  // The whole file in memory (tests, fuzz seeds). Filler errors are fatal.
  std::string WriteToString() const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> dims;
    kernels::DType type;
    uint64_t size_bytes;
    std::string bytes;  // when added with AddTensor()
    Filler fill;        // when added with AddTensorFn()
  };

  absl::StatusOr<Tensor> NewTensor(const std::string& name, std::vector<int64_t> dims,
                                   kernels::DType type) const;
  uint32_t Alignment() const;
  std::string Header() const;  // everything before the data section, padded
  // Calls sink(bytes) for the header and then each padded tensor in order.
  absl::Status Emit(const std::function<absl::Status(std::string_view)>& sink) const;

  std::vector<GgufKv> kvs_;
  absl::flat_hash_map<std::string, size_t> kv_index_;
  std::vector<Tensor> tensors_;
  absl::flat_hash_map<std::string, size_t> tensor_index_;
};

}  // namespace surge::engine::model
