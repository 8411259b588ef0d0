// What a training job is asked to do (TrainConfig), what it reports while it
// runs (TrainProgress) and what it gives back (TrainResult).
//
// TrainConfig has two parts. The `recipe` decides the numbers the run
// produces: model shape, vocabulary size, batch, schedule, optimizer, seed.
// A checkpoint stores it, and a resumed run takes it from there, whatever
// the caller passes, so the resumed loss curve is the uninterrupted one bit
// for bit. The rest says how to run: threads (any count gives the same
// bits), evaluation, checkpoints, the output file.
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jobs/train/optimizer.h"
#include "jobs/train/train_model.h"

namespace surge::jobs::train {

struct TrainRecipe {
  ModelShape shape;            // shape.n_vocab: the vocabulary size to learn
  int64_t batch = 16;          // sequences of shape.n_ctx tokens per step
  float val_fraction = 0.05f;  // of the corpus held out for val_loss (0: none)
  int64_t steps = 1000;
  float lr = 1e-3f;  // peak learning rate, reached after warmup_steps
  float min_lr = 1e-4f;
  int64_t warmup_steps = 50;
  AdamWConfig adamw;
  float grad_clip = 1.0f;  // max global gradient norm (0: no clipping)
  uint64_t seed = 1;       // weights and batch order
};

struct TrainConfig {
  TrainRecipe recipe;
  int threads = 1;
  int64_t eval_every = 100;      // steps between held-out evaluations (0: only at the end)
  int64_t eval_batches = 4;      // batches per evaluation
  int64_t checkpoint_every = 0;  // steps between checkpoints (0: only on cancel and at the end)
  std::string checkpoint_dir;    // where checkpoint.gguf goes ("" : no checkpoints)
  std::string resume_from;       // a checkpoint to continue from ("" : start fresh)
  std::string output_path;       // the trained model as GGUF, f32 ("" : not written)
  std::string model_name = "surge-trained";  // general.name of the output
};

// Named starting points: "micro" (a 64-wide, 2-layer model that trains in
// seconds; for tries and tests) and "default" (the model shipped in
// models/default, see docs/default-model.md).
[[nodiscard]] absl::StatusOr<TrainConfig> PresetConfig(std::string_view name);

// Approximate memory a run of `recipe` needs, in bytes: parameters with
// their gradients and moments, plus the activations kept for the backward
// pass (dominated by batch * n_ctx * (layers * (n_heads * n_ctx + ...) +
// vocab)). A job scheduler can use it for admission.
double EstimateMemoryBytes(const TrainRecipe& recipe);

// InvalidArgument naming the first bad field (including a recipe whose
// memory estimate exceeds 64 GiB).
[[nodiscard]] absl::Status ValidateConfig(const TrainConfig& config);

enum class TrainPhase { kTokenizer, kTraining, kDone };

struct TrainProgress {
  static constexpr float kNone = std::numeric_limits<float>::quiet_NaN();

  TrainPhase phase = TrainPhase::kTokenizer;
  int64_t step = 0;  // steps completed
  int64_t total_steps = 0;
  double fraction = 0;     // of the whole job, 0..1
  float loss = kNone;      // training loss of the latest step
  float val_loss = kNone;  // latest held-out loss
  float lr = kNone;
  float grad_norm = kNone;       // before clipping
  double tokens_per_second = 0;  // of this run's steps so far (preparation excluded)
  std::chrono::seconds elapsed{0};
  std::chrono::seconds eta{0};
};

struct TrainResult {
  int64_t first_step = 0;     // the step this run started after (0, or the checkpoint's)
  int64_t steps = 0;          // steps completed in total
  std::vector<float> losses;  // training loss of steps first_step + 1 .. steps
  float val_loss = TrainProgress::kNone;
  int64_t num_params = 0;
  int32_t vocab_size = 0;
  int64_t train_tokens = 0;  // tokens in the training split
  int64_t val_tokens = 0;
  double seconds = 0;            // of this run, preparation included
  double tokens_per_second = 0;  // training steps only
  std::string checkpoint_path;   // "" when none was written
  std::string output_path;
};

}  // namespace surge::jobs::train
