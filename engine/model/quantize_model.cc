#include "engine/model/quantize_model.h"

#include <memory>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "engine/kernels/quantize.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/gguf_writer.h"
#include "engine/model/model_init.h"

namespace surge::engine::model {
namespace {

using kernels::DType;

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Whether tensor `t` becomes `type`; if it cannot, says why in `note`.
bool Converts(const GgufTensorInfo& t, DType type, std::string* note) {
  if (t.dims.size() < 2 || t.type == type) return false;
  const kernels::DTypeTraits traits = kernels::Traits(type);
  if (t.dims[0] % traits.block_size != 0) {
    *note = absl::StrCat(t.name, ": rows of ", t.dims[0], " are not a multiple of ",
                         traits.block_size, "; kept as ", Sv(kernels::Traits(t.type).name));
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<QuantizeReport> QuantizeModel(const std::string& in_path,
                                             const std::string& out_path, DType type) {
  if (!kernels::TraitsOf(static_cast<uint32_t>(type))) {
    return absl::InvalidArgumentError("quantize: unsupported target type");
  }
  absl::StatusOr<std::unique_ptr<GgufFile>> opened = GgufFile::Open(in_path);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat(in_path, ": ", opened.status().message()));
  }
  const GgufFile& in = **opened;

  GgufWriter w;
  for (const GgufKv& kv : in.metadata()) w.SetValue(kv.key, kv.value);
  w.SetUint32("general.file_type", GgufFileType(type));
  if (kernels::Traits(type).block_size > 1) w.SetUint32("general.quantization_version", 2);

  QuantizeReport report;
  for (const GgufTensorInfo& t : in.tensors()) {
    report.bytes_before += t.size_bytes;
    std::string note;
    const uint8_t* src = in.TensorData(t);
    if (!Converts(t, type, &note)) {
      if (!note.empty()) report.notes.push_back(note);
      ++report.num_kept;
      report.bytes_after += t.size_bytes;
      // Borrow the mapped bytes: the filler copies them when the file is written.
      SURGE_RETURN_IF_ERROR(w.AddTensorFn(t.name, t.dims, t.type, [&t, src](std::span<uint8_t> o) {
        std::memcpy(o.data(), src, t.size_bytes);
        return absl::OkStatus();
      }));
      continue;
    }
    ++report.num_converted;
    const int64_t cols = t.dims[0], rows = t.num_elements / cols;
    const int64_t in_row = kernels::RowBytes(t.type, cols), out_row = kernels::RowBytes(type, cols);
    report.bytes_after += static_cast<uint64_t>(rows * out_row);
    const DType from = t.type;
    SURGE_RETURN_IF_ERROR(w.AddTensorFn(t.name, t.dims, type, [=](std::span<uint8_t> out) {
      std::vector<float> row(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        kernels::DequantizeRow(from, src + r * in_row, cols, row.data());
        kernels::QuantizeRow(type, row.data(), cols, out.data() + r * out_row);
      }
      return absl::OkStatus();
    }));
  }
  SURGE_RETURN_IF_ERROR(w.WriteFile(out_path));
  return report;
}

}  // namespace surge::engine::model
