// Helpers shared by the kernel tests: random data, weight matrices of every
// type, and a scope that forces an instruction-set path.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/dispatch.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/quantize.h"

namespace surge::engine::kernels::testing {

inline std::vector<float> RandomFloats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

// A rows x cols matrix of `type` made from random floats.
struct TestMatrix {
  TestMatrix(DType type, int64_t rows, int64_t cols, uint32_t seed) {
    const std::vector<float> f = RandomFloats(rows * cols, seed, 0.5f);
    bytes.resize(static_cast<size_t>(RowBytes(type, cols) * rows));
    for (int64_t r = 0; r < rows; ++r) {
      QuantizeRow(type, f.data() + r * cols, cols, bytes.data() + r * RowBytes(type, cols));
    }
    m = Matrix{type, bytes.data(), rows, cols};
  }
  std::vector<uint8_t> bytes;
  Matrix m;
};

inline std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

inline std::vector<Isa> SupportedSimdIsas() {
  std::vector<Isa> out;
  for (Isa isa : SupportedIsas()) {
    if (isa != Isa::kReference) out.push_back(isa);
  }
  return out;
}

inline constexpr DType kAllTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                                      DType::kQ4_0};

// Forces `isa` for the lifetime of the scope.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : saved_(ActiveIsa()) { ForceIsa(isa); }
  ~ScopedIsa() { ForceIsa(saved_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa saved_;
};

inline std::string Name(Isa isa, DType type) {
  return std::string(IsaName(isa)) + "/" + std::string(Traits(type).name);
}

}  // namespace surge::engine::kernels::testing
