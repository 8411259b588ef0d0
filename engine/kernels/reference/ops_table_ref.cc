// The function table of the scalar reference path.
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/reference/ops_ref.h"

namespace surge::engine::kernels::internal {

const OpsTable& ReferenceOps() {
  static const OpsTable table = {
      .isa = Isa::kReference,
      .matmul_kernel = nullptr,
      .reference_matmul = reference::MatMul,
      .rms_norm = reference::RmsNorm,
      .rope = reference::Rope,
      .silu_mul = reference::SiluMul,
      .add = reference::Add,
      .to_half = reference::ToHalf,
      .attend = reference::AttendPaged,
  };
  return table;
}

}  // namespace surge::engine::kernels::internal
