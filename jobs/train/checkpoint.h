// A training checkpoint is a GGUF file holding everything a run needs to
// continue exactly where it stopped: the model as ExportGguf() writes it
// (so `surge run` and `surge model info` read a checkpoint too), AdamW's
// moments as tensors "optim.m.<name>" and "optim.v.<name>", the recipe, and
// the run's state (steps done, the Rng's four words, the corpus
// fingerprint) under "surge.train.*" keys.
//
// Writes are atomic (a temporary file renamed over the old one), so a crash
// mid-write leaves the previous checkpoint intact.
// Thread safety: functions of their arguments.
// Errors: a file that is not a checkpoint, or whose tensors do not match
// the model it is restored into, gives InvalidArgument naming what differs.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/vocab.h"
#include "jobs/train/rng.h"
#include "jobs/train/train_config.h"
#include "jobs/train/train_model.h"

namespace surge::jobs::train {

struct TrainState {
  int64_t step = 0;  // steps completed
  Rng::State rng{};
  uint64_t corpus_fingerprint = 0;
  std::string corpus_name;
  float val_loss = TrainProgress::kNone;
};

[[nodiscard]] absl::Status SaveCheckpoint(const std::string& path, const TrainRecipe& recipe,
                                          const engine::model::Vocab& vocab,
                                          const TrainModel& model, const TrainState& state,
                                          const std::string& model_name);

// A checkpoint's recipe, vocabulary and state; the tensors stay in `file`
// until RestoreParams() copies them into a model built from the recipe.
struct Checkpoint {
  TrainRecipe recipe;
  engine::model::Vocab vocab;
  TrainState state;
  std::unique_ptr<engine::model::GgufFile> file;
};

[[nodiscard]] absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path);

// Copies weights and moments into `params`, checking every name and shape.
[[nodiscard]] absl::Status RestoreParams(const engine::model::GgufFile& file, ParamStore& params);

}  // namespace surge::jobs::train
