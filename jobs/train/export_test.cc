// The exported GGUF is what the engine expects: Model::Load accepts it, the
// tokenizer comes back the same, and the engine's logits (its plain-loop
// reference and its batched runner) match the trainer's own forward pass.
#include "jobs/train/export.h"

#include <cmath>
#include <numeric>
#include <vector>

#include "engine/kv/kv_cache.h"
#include "engine/model/model.h"
#include "engine/runner/reference_forward.h"
#include "engine/runner/runner.h"
#include "gtest/gtest.h"
#include "jobs/train/dataset.h"
#include "jobs/train/grad_check_test_util.h"
#include "jobs/train/train_test_util.h"

namespace surge::jobs::train {
namespace {

// Root-mean-square difference relative to the RMS of `want`.
double RelativeError(std::span<const float> got, std::span<const float> want) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err += (double{got[i]} - want[i]) * (double{got[i]} - want[i]);
    norm += double{want[i]} * want[i];
  }
  return std::sqrt(err / norm);
}

class ExportTest : public testing::TestWithParam<bool> {};  // tied embeddings

TEST_P(ExportTest, EngineLoadsItAndComputesTheSameLogits) {
  TempDir dir("export");
  absl::StatusOr<engine::model::Vocab> vocab = TrainVocab(TinyCorpus(), 300);
  ASSERT_TRUE(vocab.ok());
  ModelShape shape = MicroConfig().recipe.shape;
  shape.n_vocab = static_cast<int32_t>(vocab->tokens.size());
  shape.tied_embeddings = GetParam();
  shape.n_ctx = 64;
  TrainModel model(shape, 1, nullptr);
  // Weights large enough that every layer shapes the logits.
  ParamStore& p = model.params();
  for (int id = 0; id < static_cast<int>(p.infos().size()); ++id) {
    const ParamInfo& info = p.info(id);
    const std::vector<float> r = RandomVector(info.size(), 40 + id, 0.3f);
    for (int64_t i = 0; i < info.size(); ++i) p.value(id)[i] = (info.decay ? 0 : 1) + r[i];
  }
  const std::string path = dir.file("m.gguf");
  ASSERT_TRUE(ExportGguf(model, *vocab, "micro", path).ok());

  auto loaded = engine::model::Model::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const engine::model::Model& m = **loaded;
  EXPECT_EQ(m.name(), "micro");
  EXPECT_EQ(m.config().n_vocab, shape.n_vocab);
  EXPECT_EQ(m.config().n_kv_heads, shape.n_kv_heads);
  EXPECT_EQ(m.weights().tied_embeddings(), GetParam());
  const std::string prompt = "The king went up to the city. A shepherd loved";
  const std::vector<int32_t> tokens = m.tokenizer().Encode(prompt, true, false);
  ASSERT_GE(tokens.size(), 8u);
  ASSERT_LE(tokens.size(), static_cast<size_t>(shape.n_ctx));
  EXPECT_EQ(m.tokenizer().eos_id(), shape.n_vocab - 1);

  model.Forward(tokens, {}, 1, static_cast<int64_t>(tokens.size()));
  const std::span<const float> ours = model.logits();
  // The engine's reference rounds K and V to fp16 as its cache does.
  const std::vector<float> reference = engine::runner::ReferenceForward(m, tokens);
  ASSERT_EQ(reference.size(), ours.size());
  EXPECT_LT(RelativeError(ours, reference), 2e-3);

  engine::kv::KvCache cache({shape.n_layers, shape.n_kv_heads, shape.head_dim(), 16, 8});
  engine::runner::Runner runner(m, cache, 1);
  std::vector<int32_t> table(4);
  std::iota(table.begin(), table.end(), 0);
  const int64_t n = static_cast<int64_t>(tokens.size());
  engine::runner::SequenceChunk chunk{tokens, 0, table, true};
  const std::span<float> last = runner.Forward({&chunk, 1});
  EXPECT_LT(RelativeError(last, ours.subspan((n - 1) * shape.n_vocab, shape.n_vocab)), 2e-3);
}

INSTANTIATE_TEST_SUITE_P(Embeddings, ExportTest, testing::Values(true, false));

}  // namespace
}  // namespace surge::jobs::train
