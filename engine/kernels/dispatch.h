// Which instruction-set path the kernels of ops.h run on. The best path the
// CPU supports is chosen once, at first use; the environment variable
// SURGE_KERNELS=reference|avx2|avx512 overrides the choice (a path the CPU
// lacks falls back to the best supported one, with a warning on stderr).
//
// Thread safety: ActiveIsa() is thread-safe. ForceIsa() is for tests and
// benchmarks and must not run concurrently with any kernel.
#pragma once

#include <optional>
#include <string_view>

namespace surge::engine::kernels {

enum class Isa {
  kReference,  // scalar oracle (engine/kernels/reference/)
  kAvx2,       // AVX2 + FMA + F16C
  kAvx512,     // AVX-512 F/BW/VL/DQ + VNNI, plus FMA/F16C
};

Isa ActiveIsa();
void ForceIsa(Isa isa);  // CHECKs IsaSupported(isa)
bool IsaSupported(Isa isa);
Isa BestSupportedIsa();
std::string_view IsaName(Isa isa);  // "reference", "avx2", "avx512"
std::optional<Isa> IsaFromName(std::string_view name);

}  // namespace surge::engine::kernels
