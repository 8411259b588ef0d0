// Chooses the kernel path once and serves the public entry points of ops.h
// through its function table.
#include "engine/kernels/dispatch.h"

#include <cpuid.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "base/check.h"
#include "engine/kernels/kernel_table.h"

namespace surge::engine::kernels {
namespace {

const internal::OpsTable& TableFor(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return internal::Avx512Ops();
    case Isa::kAvx2:
      return internal::Avx2Ops();
    case Isa::kReference:
      break;
  }
  return internal::ReferenceOps();
}

Isa InitialIsa() {
  const Isa best = BestSupportedIsa();
  const char* env = std::getenv("SURGE_KERNELS");
  if (env == nullptr || *env == '\0') return best;
  const std::optional<Isa> wanted = IsaFromName(env);
  if (!wanted) {
    std::fprintf(stderr, "surge: SURGE_KERNELS=%s is not one of reference|avx2|avx512; using %s\n",
                 env, IsaName(best).data());
    return best;
  }
  if (!IsaSupported(*wanted)) {
    std::fprintf(stderr, "surge: SURGE_KERNELS=%s is not supported by this CPU; using %s\n", env,
                 IsaName(best).data());
    return best;
  }
  return *wanted;
}

std::atomic<const internal::OpsTable*>& ActiveTable() {
  static std::atomic<const internal::OpsTable*> table{&TableFor(InitialIsa())};
  return table;
}

// F16C from CPUID leaf 1 (ECX bit 29): clang does not know the "f16c" name
// in __builtin_cpu_supports.
bool HasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

}  // namespace

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kReference:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16c();
    case Isa::kAvx512:
      return IsaSupported(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Isa BestSupportedIsa() {
  if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
  if (IsaSupported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kReference;
}

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kReference:
      return "reference";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

std::optional<Isa> IsaFromName(std::string_view name) {
  for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaName(isa) == name) return isa;
  }
  return std::nullopt;
}

Isa ActiveIsa() { return ActiveTable().load(std::memory_order_acquire)->isa; }

void ForceIsa(Isa isa) {
  SURGE_CHECK_MSG(IsaSupported(isa), "ForceIsa: this CPU lacks the instruction set");
  ActiveTable().store(&TableFor(isa), std::memory_order_release);
}

namespace internal {
const OpsTable& ActiveOps() { return *ActiveTable().load(std::memory_order_acquire); }
}  // namespace internal

}  // namespace surge::engine::kernels
