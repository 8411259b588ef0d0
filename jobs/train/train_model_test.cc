// The whole model's backward pass against finite differences of its loss,
// for every parameter tensor, on micro shapes (tied and untied embeddings,
// full and grouped KV heads); and the thread-count invariance of a whole
// forward and backward pass.
#include "jobs/train/train_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "jobs/train/grad_check_test_util.h"

namespace surge::jobs::train {
namespace {

ModelShape Micro(bool tied, int kv_heads) {
  return {.n_vocab = 23,
          .n_embd = 16,
          .n_layers = 2,
          .n_heads = 4,
          .n_kv_heads = kv_heads,
          .n_ff = 24,
          .n_ctx = 6,
          .tied_embeddings = tied};
}

// Random weights of a scale where every path carries a visible gradient
// (the 0.02 training init would make most of them tiny).
void Randomize(ParamStore& p, uint64_t seed) {
  for (int id = 0; id < static_cast<int>(p.infos().size()); ++id) {
    const ParamInfo& info = p.info(id);
    const std::vector<float> r = RandomVector(info.size(), seed + id, info.decay ? 0.4f : 0.3f);
    for (int64_t i = 0; i < info.size(); ++i) p.value(id)[i] = (info.decay ? 0.0f : 1.0f) + r[i];
  }
}

std::vector<int32_t> Tokens(int64_t n, int32_t vocab, uint64_t seed) {
  std::vector<int32_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((seed * 7919 + i * 104729) % vocab);
  return t;
}

struct Variant {
  bool tied;
  int kv_heads;
};

class ModelGradTest : public testing::TestWithParam<Variant> {};

TEST_P(ModelGradTest, EveryTensorMatchesFiniteDifferences) {
  const ModelShape shape = Micro(GetParam().tied, GetParam().kv_heads);
  const int64_t batch = 2, seq = shape.n_ctx;
  TrainModel model(shape, batch, nullptr);
  ParamStore& p = model.params();
  Randomize(p, 11);
  const std::vector<int32_t> inputs = Tokens(batch * seq, shape.n_vocab, 3);
  const std::vector<int32_t> targets = Tokens(batch * seq, shape.n_vocab, 5);
  p.ZeroGrads();
  model.Forward(inputs, targets, batch, seq);
  model.Backward();

  // Each tensor as its own vector, copied in and out of the store around
  // every loss evaluation.
  std::vector<std::vector<float>> values(p.infos().size()), grads(p.infos().size());
  std::vector<GradTensor> tensors;
  for (size_t id = 0; id < p.infos().size(); ++id) {
    const ParamInfo& info = p.info(static_cast<int>(id));
    values[id].assign(p.value(static_cast<int>(id)), p.value(static_cast<int>(id)) + info.size());
    grads[id].assign(p.grad(static_cast<int>(id)), p.grad(static_cast<int>(id)) + info.size());
    tensors.push_back({info.name, &values[id], &grads[id]});
  }
  auto loss = [&] {
    for (size_t id = 0; id < values.size(); ++id) {
      std::copy(values[id].begin(), values[id].end(), p.value(static_cast<int>(id)));
    }
    return model.Forward(inputs, targets, batch, seq);
  };
  ExpectGradientsMatch(tensors, loss, {.h = 1e-2, .rtol = 3e-2, .atol = 2e-5, .max_elements = 8});
}

INSTANTIATE_TEST_SUITE_P(Shapes, ModelGradTest,
                         testing::Values(Variant{true, 4}, Variant{false, 2}, Variant{true, 1}));

TEST(ModelTest, SameBitsForAnyThreadCount) {
  const ModelShape shape = {.n_vocab = 300,
                            .n_embd = 64,
                            .n_layers = 2,
                            .n_heads = 4,
                            .n_kv_heads = 2,
                            .n_ff = 96,
                            .n_ctx = 40};
  const int64_t batch = 3;
  const std::vector<int32_t> inputs = Tokens(batch * shape.n_ctx, shape.n_vocab, 1);
  const std::vector<int32_t> targets = Tokens(batch * shape.n_ctx, shape.n_vocab, 2);
  engine::kernels::ThreadPool pool(2);
  std::vector<float> grads[2];
  double losses[2];
  for (int t = 0; t < 2; ++t) {
    TrainModel model(shape, batch, t == 0 ? nullptr : &pool);
    model.InitWeights(9);
    losses[t] = model.Forward(inputs, targets, batch, shape.n_ctx);
    model.Backward();
    const std::span<float> g = model.params().grads();
    grads[t].assign(g.begin(), g.end());
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(grads[0], grads[1]);
}

TEST(ModelTest, InitialLossIsNearUniform) {
  const ModelShape shape = {.n_vocab = 500,
                            .n_embd = 32,
                            .n_layers = 1,
                            .n_heads = 2,
                            .n_kv_heads = 2,
                            .n_ff = 64,
                            .n_ctx = 8};
  TrainModel model(shape, 1, nullptr);
  model.InitWeights(1);
  const std::vector<int32_t> in = Tokens(8, shape.n_vocab, 4), out = Tokens(8, shape.n_vocab, 6);
  EXPECT_NEAR(model.Forward(in, out, 1, 8), std::log(500.0), 0.1);
}

TEST(ModelShapeTest, RejectsInconsistentShapes) {
  ModelShape s = Micro(true, 4);
  EXPECT_TRUE(s.Validate().ok());
  s.n_kv_heads = 3;
  EXPECT_FALSE(s.Validate().ok());
  s = Micro(true, 4);
  s.n_heads = 5;
  EXPECT_FALSE(s.Validate().ok());
  s = Micro(true, 4);
  s.n_embd = 12;  // head width 3: odd
  EXPECT_FALSE(s.Validate().ok());
}

}  // namespace
}  // namespace surge::jobs::train
