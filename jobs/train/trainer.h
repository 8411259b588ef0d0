// Train() is the training job: it learns a byte-level BPE vocabulary from
// the corpus, trains a llama model from scratch on it (AdamW, warmup then
// cosine learning rate, global-norm gradient clipping), evaluates on a
// held-out split, writes checkpoints, and exports the model as GGUF.
//
// Determinism: a run is a pure function of the recipe and the corpus. The
// thread count does not change a single bit, and a run resumed from a
// checkpoint at step k produces the same losses and weights for steps
// k+1..n as a run that never stopped.
// Progress: `progress` (may be empty) is called on the calling thread after
// the tokenizer is trained and after every step, with percent, ETA and the
// job's own figures (loss, held-out loss, tokens/s). It must return quickly.
// Cancellation: `cancel` (may be null) is polled before every step; when
// set, Train() writes a checkpoint (if it has a directory) and returns
// Cancelled, whose message names the checkpoint to resume from.
// Thread safety: Train() blocks its caller; it owns its compute pool of
// config.threads threads (the caller is one of them). Concurrent calls are
// independent.
// Errors: InvalidArgument for a bad config or a corpus too small for it;
// FailedPrecondition when resuming on a different corpus; DataLoss when the
// loss stops being finite; I/O errors from checkpoints and the output file.
#pragma once

#include <atomic>
#include <functional>

#include "base/status.h"
#include "jobs/train/corpus.h"
#include "jobs/train/train_config.h"

namespace surge::jobs::train {

using ProgressFn = std::function<void(const TrainProgress&)>;

[[nodiscard]] absl::StatusOr<TrainResult> Train(const TrainConfig& config, const Corpus& corpus,
                                                const ProgressFn& progress,
                                                const std::atomic<bool>* cancel);

}  // namespace surge::jobs::train
