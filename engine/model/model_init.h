// Random-initialised models for tests and benchmarks (`surge model init`):
// a preset shape, an architecture, a tensor type and a seed give one GGUF
// file, byte for byte, with the metadata keys and tensor names llama.cpp
// expects, so both engines load the same file.
//
// Presets: tiny = 288 wide, 6 layers, 6 heads, ffn 768, context 512;
// small = 768 wide, 12 layers, 12 heads, ffn 2048, context 1024. Vocabulary:
// DefaultVocab() (32000 tokens), SPM for llama, BPE for qwen2/qwen3.
// Values: matrices ~N(0, 0.02) (attn_output and ffn_down scaled by
// 1/sqrt(2 * layers)), norms 1, biases ~N(0, 0.01). The normal draws are an
// Irwin-Hall sum of four uniforms from splitmix64, seeded per tensor by name,
// so the bytes depend on nothing but the options (no libm, no std
// distributions). 1-D tensors are f32; 2-D weights use `type`.
//
// Thread safety: pure functions of their arguments.
// Errors: InvalidArgument for an unknown arch or preset, or a head count that
// does not divide; I/O errors from writing.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/kernels/dtype.h"
#include "engine/model/gguf_writer.h"

namespace surge::engine::model {

struct InitOptions {
  std::string arch = "llama";   // llama | qwen2 | qwen3
  std::string preset = "tiny";  // tiny | small
  kernels::DType type = kernels::DType::kF32;
  uint64_t seed = 1;
  int n_heads = 0;               // 0: the preset's; else must divide n_embd into even widths
  int n_kv_heads = 0;            // 0: same as heads (MHA); else must divide the head count
  bool tied_embeddings = false;  // no output.weight; the head reuses token_embd
};

// Writes the model to `path` (atomically, via GgufWriter::WriteFile).
[[nodiscard]] absl::Status WriteRandomModel(const InitOptions& options, const std::string& path);

// Adds the model's metadata and tensors to `writer`; the tensor data is
// generated while the writer writes. For tests and for callers that add keys.
[[nodiscard]] absl::Status BuildRandomModel(const InitOptions& options, GgufWriter& writer);

// llama.cpp's general.file_type (LLAMA_FTYPE) for a model whose weights are
// mostly `type`: f32 0, f16 1, q4_0 2, q8_0 7, bf16 32.
uint32_t GgufFileType(kernels::DType type);

}  // namespace surge::engine::model
