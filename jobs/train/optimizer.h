// The update rule of a training step: the learning-rate schedule (linear
// warmup, then cosine decay to a floor), clipping of the gradients' global
// L2 norm, and AdamW with decoupled weight decay (applied to tensors marked
// `decay` in the ParamStore: matrices and embeddings, not norms).
//
// Determinism: the norm is summed per fixed chunk in double and the chunks
// added in order; the update is elementwise. Results do not depend on the
// thread count.
// Thread safety: free functions over a store the caller owns.
#pragma once

#include <cstdint>

#include "engine/kernels/thread_pool.h"
#include "jobs/train/param_store.h"

namespace surge::jobs::train {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

struct LrSchedule {
  float max_lr = 1e-3f;
  float min_lr = 1e-4f;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  // Learning rate of 1-based step `step`: max_lr * step / warmup during
  // warmup, then cosine from max_lr down to min_lr at total_steps.
  float At(int64_t step) const;
};

// L2 norm of all gradients; if it exceeds max_norm (> 0), scales them so it
// equals max_norm. Returns the norm before clipping.
float ClipGradNorm(ParamStore& params, float max_norm, engine::kernels::ThreadPool* pool);

// One AdamW update with learning rate `lr` at 1-based step `step` (bias
// correction uses it), reading the store's gradients.
void AdamWStep(ParamStore& params, const AdamWConfig& config, float lr, int64_t step,
               engine::kernels::ThreadPool* pool);

}  // namespace surge::jobs::train
