// `surge train`: trains a llama model from scratch on a text corpus (see
// jobs/train/trainer.h) and writes it as GGUF, optionally quantized.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "engine/kernels/dtype.h"
#include "engine/model/quantize_model.h"
#include "jobs/train/corpus.h"
#include "jobs/train/trainer.h"
#include "tools/surge/commands.h"

namespace surge::cli {
namespace {

namespace train = jobs::train;

std::atomic<bool> g_cancel{false};

// First Ctrl-C: finish the step, write a checkpoint, stop. Second: quit now.
extern "C" void OnInterrupt(int) {
  if (g_cancel.exchange(true)) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  constexpr char kMsg[] = "\nsurge train: stopping after this step (Ctrl-C again to quit now)\n";
  [[maybe_unused]] ssize_t n = write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
}

struct TrainFlags {
  std::string corpus, output, preset = "default", resume, checkpoint_dir, type = "f32", name;
  std::optional<int64_t> steps, batch, checkpoint_every, eval_every, warmup, vocab;
  std::optional<float> lr;
  std::optional<uint64_t> seed;
  int threads = 1;
};

std::string Duration(std::chrono::seconds s) {
  const int64_t t = s.count();
  if (t >= 3600) return absl::StrFormat("%dh%02dm", t / 3600, t / 60 % 60);
  if (t >= 60) return absl::StrFormat("%dm%02ds", t / 60, t % 60);
  return absl::StrFormat("%ds", t);
}

// One progress line; on a terminal it rewrites itself, elsewhere it is
// printed at most every 10 s and at every held-out evaluation.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(STDERR_FILENO) != 0) {}

  void operator()(const train::TrainProgress& p) {
    if (p.phase == train::TrainPhase::kTokenizer) {
      std::fprintf(stderr, "surge train: learning the tokenizer...\n");
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    const bool new_val = !std::isnan(p.val_loss) && p.val_loss != last_val_;
    const bool due = now - last_print_ >=
                     (tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000));
    const bool done = p.phase == train::TrainPhase::kDone;
    if (done && p.step == last_step_) {  // the last step's line is already out
      if (tty_) std::fprintf(stderr, "\n");
      return;
    }
    if (!(due || new_val || done)) return;
    last_print_ = now;
    last_step_ = p.step;
    last_val_ = p.val_loss;
    std::string line = absl::StrFormat("step %d/%d (%.1f%%)  loss %.4f", p.step, p.total_steps,
                                       100.0 * p.fraction, p.loss);
    if (!std::isnan(p.val_loss)) line += absl::StrFormat("  val %.4f", p.val_loss);
    line += absl::StrFormat("  lr %.2e  %.0f tok/s  elapsed %s  ETA %s", p.lr, p.tokens_per_second,
                            Duration(p.elapsed), Duration(p.eta));
    std::fprintf(stderr, tty_ ? "\r%s\033[K" : "%s\n", line.c_str());
    if (tty_ && done) std::fprintf(stderr, "\n");
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point last_print_{};
  int64_t last_step_ = -1;
  float last_val_ = train::TrainProgress::kNone;
};

// Ends the progress line first; a cancelled run exits 130 (interrupted).
int TrainFailed(const absl::Status& s) {
  std::fprintf(stderr, "\nsurge train: %s\n", std::string(s.message()).c_str());
  return s.code() == absl::StatusCode::kCancelled ? 130 : 1;
}

absl::StatusOr<train::TrainConfig> BuildConfig(const TrainFlags& f) {
  SURGE_ASSIGN_OR_RETURN(train::TrainConfig c, train::PresetConfig(f.preset));
  train::TrainRecipe& r = c.recipe;
  if (f.steps) r.steps = *f.steps;
  if (f.batch) r.batch = *f.batch;
  if (f.warmup) r.warmup_steps = *f.warmup;
  if (f.vocab) r.shape.n_vocab = static_cast<int32_t>(*f.vocab);
  if (f.lr) {
    r.min_lr = r.min_lr / r.lr * *f.lr;  // keep the preset's floor ratio
    r.lr = *f.lr;
  }
  if (f.seed) r.seed = *f.seed;
  if (f.eval_every) c.eval_every = *f.eval_every;
  if (f.checkpoint_every) c.checkpoint_every = *f.checkpoint_every;
  c.threads = f.threads;
  c.resume_from = f.resume;
  c.checkpoint_dir = f.checkpoint_dir.empty() ? f.output + ".ckpt" : f.checkpoint_dir;
  c.model_name = f.name.empty() ? std::filesystem::path(f.output).stem().string() : f.name;
  return c;
}

int RunTrain(const TrainFlags& f) {
  const std::optional<engine::kernels::DType> type = engine::kernels::DTypeFromName(f.type);
  if (!type) return TrainFailed(absl::InvalidArgumentError("unknown --type " + f.type));
  absl::StatusOr<train::TrainConfig> config = BuildConfig(f);
  if (!config.ok()) return TrainFailed(config.status());
  const bool quantize = *type != engine::kernels::DType::kF32;
  config->output_path = quantize ? f.output + ".f32.tmp" : f.output;
  std::fprintf(stderr, "surge train: reading corpus %s...\n", f.corpus.c_str());
  absl::StatusOr<train::Corpus> corpus = train::LoadCorpus(f.corpus);
  if (!corpus.ok()) return TrainFailed(corpus.status());
  std::fprintf(stderr, "surge train: %zu documents, %.1f MB\n", corpus->documents.size(),
               corpus->num_bytes() / 1e6);
  g_cancel.store(false);
  auto previous = std::signal(SIGINT, OnInterrupt);
  ProgressPrinter printer;
  absl::StatusOr<train::TrainResult> r =
      train::Train(*config, *corpus, std::ref(printer), &g_cancel);
  std::signal(SIGINT, previous);
  if (!r.ok()) return TrainFailed(r.status());
  if (quantize) {
    absl::StatusOr<engine::model::QuantizeReport> q =
        engine::model::QuantizeModel(config->output_path, f.output, *type);
    std::filesystem::remove(config->output_path);
    if (!q.ok()) return TrainFailed(q.status());
  }
  std::printf(
      "trained %lld steps (from %lld): %lld parameters, vocab %d, %lld training tokens, "
      "%lld held out\n"
      "final loss %.4f, held-out loss %.4f, %.0f tokens/s, %.1f min\n"
      "wrote %s (checkpoint %s)\n",
      static_cast<long long>(r->steps), static_cast<long long>(r->first_step),
      static_cast<long long>(r->num_params), r->vocab_size, static_cast<long long>(r->train_tokens),
      static_cast<long long>(r->val_tokens), r->losses.empty() ? NAN : r->losses.back(),
      r->val_loss, r->tokens_per_second, r->seconds / 60, f.output.c_str(),
      r->checkpoint_path.c_str());
  return 0;
}

}  // namespace

CommandFn RegisterTrain(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  app.add_option("--corpus", f->corpus, "kjv | fortunes | a text file")->required();
  app.add_option("-o,--output", f->output, "output GGUF file")->required();
  app.add_option("--preset", f->preset, "micro | default")->capture_default_str();
  app.add_option("--type", f->type, "output type: f32|f16|bf16|q8_0|q4_0")->capture_default_str();
  app.add_option("--threads", f->threads, "compute threads (results do not depend on it)")
      ->capture_default_str();
  app.add_option("--resume", f->resume,
                 "continue from this checkpoint (its recipe wins over the flags below)");
  app.add_option("--checkpoint-dir", f->checkpoint_dir,
                 "where checkpoint.gguf goes "
                 "(default: OUTPUT.ckpt)");
  app.add_option("--checkpoint-every", f->checkpoint_every, "steps between checkpoints");
  app.add_option("--eval-every", f->eval_every, "steps between held-out evaluations");
  app.add_option("--steps", f->steps, "optimizer steps");
  app.add_option("--batch", f->batch, "sequences per step");
  app.add_option("--warmup", f->warmup, "warmup steps");
  app.add_option("--lr", f->lr, "peak learning rate");
  app.add_option("--vocab", f->vocab, "vocabulary size to learn");
  app.add_option("--seed", f->seed, "random seed (weights and batches)");
  app.add_option("--name", f->name, "general.name of the model (default: output file stem)");
  return [f]() { return RunTrain(*f); };
}

}  // namespace surge::cli
