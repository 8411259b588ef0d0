#include "jobs/train/train_config.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace surge::jobs::train {
namespace {

absl::Status Bad(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("train config: ", std::string(field), " ", std::string(why)));
}

constexpr double kMaxMemoryBytes = 64.0 * (1ull << 30);

}  // namespace

double EstimateMemoryBytes(const TrainRecipe& r) {
  const ModelShape& s = r.shape;
  const double c = s.n_embd, f = s.n_ff, v = s.n_vocab, layers = s.n_layers, t = s.n_ctx;
  const double q = double{1.0} * s.n_heads * s.head_dim(), kv = 1.0 * s.n_kv_heads * s.head_dim();
  const double params =
      v * c * (s.tied_embeddings ? 1 : 2) + layers * (2 * c * q + 2 * c * kv + 3 * c * f);
  const double per_token =
      layers * (5 * c + 2 * q + 2 * kv + 3 * f + s.n_heads * t) + v + 6 * c + 3 * f + 2 * q;
  return 4.0 * (4 * params + static_cast<double>(r.batch) * t * per_token);
}

absl::StatusOr<TrainConfig> PresetConfig(std::string_view name) {
  TrainConfig c;
  TrainRecipe& r = c.recipe;
  if (name == "micro") {
    r.shape = {.n_vocab = 512,
               .n_embd = 64,
               .n_layers = 2,
               .n_heads = 4,
               .n_kv_heads = 4,
               .n_ff = 192,
               .n_ctx = 64};
    r.batch = 8;
    r.steps = 300;
    r.lr = 3e-3f;
    r.min_lr = 3e-4f;
    r.warmup_steps = 20;
    c.eval_every = 50;
  } else if (name == "default") {
    r.shape = {.n_vocab = 4096,
               .n_embd = 192,
               .n_layers = 4,
               .n_heads = 6,
               .n_kv_heads = 6,
               .n_ff = 512,
               .n_ctx = 256};
    r.batch = 16;
    r.steps = 600;
    r.lr = 2e-3f;
    r.min_lr = 2e-4f;
    r.warmup_steps = 30;
    c.eval_every = 100;
    c.checkpoint_every = 50;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown preset '", std::string(name), "' (known: micro, default)"));
  }
  return c;
}

absl::Status ValidateConfig(const TrainConfig& c) {
  const TrainRecipe& r = c.recipe;
  SURGE_RETURN_IF_ERROR(r.shape.Validate());
  if (r.shape.n_vocab < 258) return Bad("vocab size", "must be at least 258");
  if (r.batch < 1) return Bad("batch", "must be at least 1");
  if (r.steps < 1) return Bad("steps", "must be at least 1");
  if (!(r.val_fraction >= 0.0f && r.val_fraction <= 0.5f)) {
    return Bad("val_fraction", "must be in [0, 0.5]");
  }
  if (!(r.lr > 0.0f) || !std::isfinite(r.lr)) return Bad("lr", "must be positive");
  if (!(r.min_lr >= 0.0f && r.min_lr <= r.lr)) return Bad("min_lr", "must be in [0, lr]");
  if (r.warmup_steps < 0 || r.warmup_steps > r.steps) return Bad("warmup", "must be in [0, steps]");
  if (!(r.adamw.beta1 >= 0.0f && r.adamw.beta1 < 1.0f) ||
      !(r.adamw.beta2 >= 0.0f && r.adamw.beta2 < 1.0f) || !(r.adamw.eps > 0.0f) ||
      !(r.adamw.weight_decay >= 0.0f)) {
    return Bad("adamw", "needs betas in [0, 1), eps > 0 and weight decay >= 0");
  }
  if (!(r.grad_clip >= 0.0f)) return Bad("grad_clip", "must be >= 0");
  if (const double bytes = EstimateMemoryBytes(r); bytes > kMaxMemoryBytes) {
    return Bad("model and batch",
               absl::StrCat("need about ", static_cast<int64_t>(bytes / (1 << 30)),
                            " GiB of memory (limit 64)"));
  }
  if (c.threads < 1 || c.threads > 256) return Bad("threads", "must be in [1, 256]");
  if (c.eval_every < 0 || c.eval_batches < 1) return Bad("eval", "needs every >= 0, batches >= 1");
  if (c.checkpoint_every < 0) return Bad("checkpoint_every", "must be >= 0");
  if (c.checkpoint_every > 0 && c.checkpoint_dir.empty()) {
    return Bad("checkpoint_every", "needs a checkpoint directory");
  }
  return absl::OkStatus();
}

}  // namespace surge::jobs::train
