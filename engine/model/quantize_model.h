// QuantizeModel rewrites a GGUF model with its weight matrices in another
// tensor type (`surge model quantize`, the quantize job).
//
// Model: every metadata key is copied in order, with general.file_type set
// for `type`. Every tensor of two or more dimensions is converted row by row
// (dequantized to f32 from whatever supported type it has, then converted to
// `type`); 1-D tensors (norms, biases) are copied unchanged. A matrix whose
// rows are not whole blocks of `type` (q8_0/q4_0 need a multiple of 32) keeps
// its type and is listed in the report. The output streams through one
// tensor-sized buffer; the input stays mapped.
// Thread safety: a pure function of its files.
// Errors: the reader's status for a bad input (prefixed with its path), I/O
// errors for the output; the output path is never left half-written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/kernels/dtype.h"

namespace surge::engine::model {

struct QuantizeReport {
  int num_converted = 0;      // tensors written in the new type
  int num_kept = 0;           // tensors copied as they were (1-D, same type, or not convertible)
  uint64_t bytes_before = 0;  // tensor data bytes, unpadded
  uint64_t bytes_after = 0;
  std::vector<std::string> notes;  // one line per matrix that could not be converted
};

[[nodiscard]] absl::StatusOr<QuantizeReport> QuantizeModel(const std::string& in_path,
                                                           const std::string& out_path,
                                                           kernels::DType type);

}  // namespace surge::engine::model
