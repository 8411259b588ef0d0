#include "jobs/train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/tokenizer.h"
#include "jobs/train/checkpoint.h"
#include "jobs/train/dataset.h"
#include "jobs/train/export.h"
#include "jobs/train/optimizer.h"

namespace surge::jobs::train {
namespace {

using Clock = std::chrono::steady_clock;
using engine::kernels::ThreadPool;

constexpr char kCheckpointFile[] = "checkpoint.gguf";
// The batch order is drawn from a stream of its own, so that changing how
// weights are initialised never changes which windows a run sees.
constexpr uint64_t kDataStream = 0x6a09e667f3bcc909ull;

// One call of Train(): the state of a run from preparation to export.
class Run {
 public:
  Run(const TrainConfig& config, const Corpus& corpus, const ProgressFn& progress,
      const std::atomic<bool>* cancel)
      : config_(config), corpus_(corpus), progress_(progress), cancel_(cancel) {}

  absl::StatusOr<TrainResult> Go();

 private:
  absl::Status Prepare();
  absl::Status PrepareFresh();
  absl::Status PrepareResume(Checkpoint& checkpoint);
  absl::Status Step();
  float Evaluate();
  absl::Status WriteCheckpoint();
  void Report(TrainPhase phase);
  int64_t tokens_per_step() const { return recipe().batch * recipe().shape.n_ctx; }
  const TrainRecipe& recipe() const { return config_.recipe; }

  TrainConfig config_;
  const Corpus& corpus_;
  const ProgressFn& progress_;
  const std::atomic<bool>* cancel_;

  engine::model::Vocab vocab_;
  std::unique_ptr<engine::model::Tokenizer> tokenizer_;
  std::optional<TokenData> data_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<TrainModel> model_;
  Rng rng_{0};
  LrSchedule schedule_;
  TrainState state_;
  TrainResult result_;
  TrainProgress last_;
  std::vector<int32_t> inputs_, targets_;
  Clock::time_point start_;        // Train() was called
  Clock::time_point train_start_;  // the first step of this run began
};

absl::Status Run::PrepareFresh() {
  SURGE_RETURN_IF_ERROR(ValidateConfig(config_));
  Report(TrainPhase::kTokenizer);
  SURGE_ASSIGN_OR_RETURN(vocab_, TrainVocab(corpus_, recipe().shape.n_vocab));
  config_.recipe.shape.n_vocab = static_cast<int32_t>(vocab_.tokens.size());
  state_.corpus_fingerprint = corpus_.Fingerprint();
  state_.corpus_name = corpus_.name;
  rng_ = Rng(recipe().seed ^ kDataStream);
  return absl::OkStatus();
}

absl::Status Run::PrepareResume(Checkpoint& checkpoint) {
  SURGE_ASSIGN_OR_RETURN(checkpoint, ReadCheckpoint(config_.resume_from));
  if (checkpoint.state.corpus_fingerprint != corpus_.Fingerprint()) {
    return absl::FailedPreconditionError(
        absl::StrCat(config_.resume_from, " was trained on corpus '", checkpoint.state.corpus_name,
                     "', and the text given now is different"));
  }
  config_.recipe = checkpoint.recipe;
  SURGE_RETURN_IF_ERROR(ValidateConfig(config_));
  vocab_ = checkpoint.vocab;
  state_ = checkpoint.state;
  rng_.set_state(state_.rng);
  return absl::OkStatus();
}

absl::Status Run::Prepare() {
  Checkpoint checkpoint;
  if (config_.resume_from.empty()) {
    SURGE_RETURN_IF_ERROR(PrepareFresh());
  } else {
    SURGE_RETURN_IF_ERROR(PrepareResume(checkpoint));
  }
  SURGE_ASSIGN_OR_RETURN(tokenizer_, engine::model::Tokenizer::Create(vocab_));
  SURGE_ASSIGN_OR_RETURN(
      data_, TokenData::Build(corpus_, *tokenizer_, recipe().shape.n_ctx, recipe().val_fraction));
  pool_ = std::make_unique<ThreadPool>(config_.threads);
  model_ = std::make_unique<TrainModel>(recipe().shape, recipe().batch, pool_.get());
  if (checkpoint.file != nullptr) {
    SURGE_RETURN_IF_ERROR(RestoreParams(*checkpoint.file, model_->params()));
  } else {
    model_->InitWeights(recipe().seed);
  }
  schedule_ = {recipe().lr, recipe().min_lr, recipe().warmup_steps, recipe().steps};
  result_.first_step = state_.step;
  result_.num_params = model_->params().num_params();
  result_.vocab_size = recipe().shape.n_vocab;
  result_.train_tokens = data_->num_train_tokens();
  result_.val_tokens = data_->num_val_tokens();
  last_.val_loss = state_.val_loss;
  return absl::OkStatus();
}

absl::Status Run::Step() {
  const int64_t batch = recipe().batch, seq_len = recipe().shape.n_ctx;
  ParamStore& params = model_->params();
  params.ZeroGrads();
  data_->SampleBatch(rng_, batch, seq_len, &inputs_, &targets_);
  const auto loss = static_cast<float>(model_->Forward(inputs_, targets_, batch, seq_len));
  if (!std::isfinite(loss)) {
    return absl::DataLossError(absl::StrCat("training diverged at step ", state_.step + 1,
                                            " (loss ", loss, "); lower the learning rate"));
  }
  model_->Backward();
  const float norm = ClipGradNorm(params, recipe().grad_clip, pool_.get());
  const int64_t step = state_.step + 1;
  const float lr = schedule_.At(step);
  AdamWStep(params, recipe().adamw, lr, step, pool_.get());
  state_.step = step;
  result_.losses.push_back(loss);
  last_.loss = loss;
  last_.lr = lr;
  last_.grad_norm = norm;
  return absl::OkStatus();
}

float Run::Evaluate() {
  const int64_t batch = recipe().batch, seq_len = recipe().shape.n_ctx;
  const int64_t batches = config_.eval_batches;
  double sum = 0;
  for (int64_t i = 0; i < batches; ++i) {
    data_->ValBatch(i, batch, batches * batch, seq_len, &inputs_, &targets_);
    sum += model_->Forward(inputs_, targets_, batch, seq_len);
  }
  state_.val_loss = static_cast<float>(sum / static_cast<double>(batches));
  last_.val_loss = state_.val_loss;
  return state_.val_loss;
}

absl::Status Run::WriteCheckpoint() {
  std::error_code ec;
  std::filesystem::create_directories(config_.checkpoint_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create checkpoint directory ",
                                                    config_.checkpoint_dir, ": ", ec.message()));
  }
  const std::string path = (std::filesystem::path(config_.checkpoint_dir) / kCheckpointFile);
  state_.rng = rng_.state();
  SURGE_RETURN_IF_ERROR(
      SaveCheckpoint(path, recipe(), vocab_, *model_, state_, config_.model_name));
  result_.checkpoint_path = path;
  return absl::OkStatus();
}

void Run::Report(TrainPhase phase) {
  if (!progress_) return;
  const Clock::time_point now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double training = std::chrono::duration<double>(now - train_start_).count();
  const int64_t done = state_.step - result_.first_step;
  last_.phase = phase;
  last_.step = state_.step;
  last_.total_steps = recipe().steps;
  last_.fraction =
      phase == TrainPhase::kDone ? 1.0 : static_cast<double>(state_.step) / recipe().steps;
  last_.elapsed = std::chrono::seconds(static_cast<int64_t>(elapsed));
  if (done > 0 && training > 0) {
    last_.tokens_per_second = static_cast<double>(done * tokens_per_step()) / training;
    const double per_step = training / static_cast<double>(done);
    last_.eta = std::chrono::seconds(
        static_cast<int64_t>(per_step * static_cast<double>(recipe().steps - state_.step)));
  }
  progress_(last_);
}

absl::StatusOr<TrainResult> Run::Go() {
  start_ = Clock::now();
  SURGE_RETURN_IF_ERROR(Prepare());
  train_start_ = Clock::now();
  const bool checkpoints = !config_.checkpoint_dir.empty();
  while (state_.step < recipe().steps) {
    if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) {
      if (!checkpoints) return absl::CancelledError("training cancelled (no checkpoint directory)");
      SURGE_RETURN_IF_ERROR(WriteCheckpoint());
      return absl::CancelledError(absl::StrCat("training cancelled after step ", state_.step,
                                               "; resume from ", result_.checkpoint_path));
    }
    SURGE_RETURN_IF_ERROR(Step());
    const int64_t step = state_.step;
    const bool last = step == recipe().steps;
    if (recipe().val_fraction > 0 &&
        (last || (config_.eval_every > 0 && step % config_.eval_every == 0))) {
      Evaluate();
    }
    if (checkpoints &&
        (last || (config_.checkpoint_every > 0 && step % config_.checkpoint_every == 0))) {
      SURGE_RETURN_IF_ERROR(WriteCheckpoint());
    }
    Report(TrainPhase::kTraining);
  }
  if (!config_.output_path.empty()) {
    SURGE_RETURN_IF_ERROR(ExportGguf(*model_, vocab_, config_.model_name, config_.output_path));
    result_.output_path = config_.output_path;
  }
  result_.steps = state_.step;
  result_.val_loss = state_.val_loss;
  const Clock::time_point end = Clock::now();
  result_.seconds = std::chrono::duration<double>(end - start_).count();
  const double training = std::chrono::duration<double>(end - train_start_).count();
  const int64_t done = state_.step - result_.first_step;
  result_.tokens_per_second =
      training > 0 ? static_cast<double>(done * tokens_per_step()) / training : 0;
  Report(TrainPhase::kDone);
  return std::move(result_);
}

}  // namespace

absl::StatusOr<TrainResult> Train(const TrainConfig& config, const Corpus& corpus,
                                  const ProgressFn& progress, const std::atomic<bool>* cancel) {
  Run run(config, corpus, progress, cancel);
  return run.Go();
}

}  // namespace surge::jobs::train
