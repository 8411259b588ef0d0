// Fuzzes the GGUF parser: any byte string must give either a status or a
// file whose every accessor works and whose every tensor byte is readable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/model/gguf_reader.h"

namespace {

using surge::engine::model::FormatGgufValue;
using surge::engine::model::GgufFile;
using surge::engine::model::GgufKv;
using surge::engine::model::GgufTensorInfo;

volatile uint64_t g_sink = 0;

void TouchMetadata(const GgufFile& f) {
  for (const GgufKv& kv : f.metadata()) {
    g_sink = g_sink + FormatGgufValue(kv.value).size() + f.Has(kv.key);
    g_sink = g_sink + f.GetString(kv.key).ok() + f.GetUint32(kv.key).ok() +
             f.GetInt64(kv.key).ok() + f.GetFloat32(kv.key).ok() + f.GetBool(kv.key).ok();
    auto strings = f.GetStringArray(kv.key);
    if (strings.ok()) g_sink = g_sink + strings->size();
    auto floats = f.GetFloat32Array(kv.key);
    if (floats.ok()) g_sink = g_sink + floats->size();
    auto ints = f.GetInt32Array(kv.key);
    if (ints.ok()) g_sink = g_sink + ints->size();
    auto n = f.GetArraySize(kv.key);
    if (n.ok()) g_sink = g_sink + *n;
  }
}

void TouchTensors(const GgufFile& f) {
  for (const GgufTensorInfo& t : f.tensors()) {
    if (f.FindTensor(t.name) != &t) __builtin_trap();
    if (t.offset + t.size_bytes > f.file_bytes()) __builtin_trap();
    const uint8_t* p = f.TensorData(t);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < t.size_bytes; ++i) sum += p[i];
    g_sink = g_sink + sum + t.dims.size() + static_cast<uint64_t>(t.num_elements);
  }
  g_sink = g_sink + f.version() + f.alignment() + f.data_offset();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = GgufFile::FromBuffer(bytes);
  if (!file.ok()) {
    if (file.status().message().empty()) __builtin_trap();
    return 0;
  }
  TouchMetadata(**file);
  TouchTensors(**file);
  return 0;
}
