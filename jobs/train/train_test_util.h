// Shared pieces of the trainer's tests: a small deterministic English-like
// corpus, a micro training config, and temporary paths.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "jobs/train/corpus.h"
#include "jobs/train/train_config.h"

namespace surge::jobs::train {

// A few kilobytes of sentences from a tiny grammar, in several documents:
// enough structure that a micro model's loss falls quickly.
inline Corpus TinyCorpus(int num_docs = 6, int sentences_per_doc = 60) {
  const char* subjects[] = {"The king", "A shepherd", "The people", "My brother", "The child"};
  const char* verbs[] = {"went up to", "looked upon", "spoke unto", "came down from", "loved"};
  const char* objects[] = {"the city.", "the mountain.", "the river.", "the house of bread.",
                           "the green field."};
  Corpus c{"tiny", {}};
  uint64_t x = 12345;
  auto next = [&x](int n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int>((x >> 33) % static_cast<uint64_t>(n));
  };
  for (int d = 0; d < num_docs; ++d) {
    std::string doc;
    for (int s = 0; s < sentences_per_doc; ++s) {
      doc += std::string(subjects[next(5)]) + " " + verbs[next(5)] + " " + objects[next(5)];
      doc += s % 4 == 3 ? "\n" : " ";
    }
    c.documents.push_back(doc);
  }
  return c;
}

// Small enough that a step takes milliseconds.
inline TrainConfig MicroConfig() {
  TrainConfig c;
  TrainRecipe& r = c.recipe;
  r.shape = {.n_vocab = 320,
             .n_embd = 32,
             .n_layers = 2,
             .n_heads = 4,
             .n_kv_heads = 2,
             .n_ff = 64,
             .n_ctx = 24};
  r.batch = 4;
  r.steps = 30;
  r.lr = 1e-2f;
  r.min_lr = 1e-3f;
  r.warmup_steps = 3;
  r.val_fraction = 0.1f;
  c.eval_every = 10;
  c.eval_batches = 2;
  return c;
}

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_(std::filesystem::temp_directory_path() /
              ("surge_train_" + tag + "_" + std::to_string(getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace surge::jobs::train
