// Finite-difference checks of every op's backward (and the forward values
// of the ops whose math is easy to restate).
#include "jobs/train/ops.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "jobs/train/grad_check_test_util.h"

namespace surge::jobs::train {
namespace {

using Vec = std::vector<float>;

TEST(OpsGradTest, Embedding) {
  const int64_t n = 7, dim = 5, vocab = 4;
  const std::vector<int32_t> tokens = {0, 3, 3, 1, 0, 2, 3};
  Vec table = RandomVector(vocab * dim, 1), r = RandomVector(n * dim, 2), out(n * dim);
  auto loss = [&] {
    EmbeddingForward(tokens.data(), n, table.data(), dim, out.data(), nullptr);
    return Dot(out, r);
  };
  loss();
  EXPECT_EQ(out[1 * dim + 2], table[3 * dim + 2]);
  Vec dtable(table.size(), 0.0f);
  EmbeddingBackward(tokens.data(), n, r.data(), dim, dtable.data(), nullptr);
  ExpectGradientsMatch({{"table", &table, &dtable}}, loss);
}

TEST(OpsGradTest, RmsNorm) {
  const int64_t n = 6, dim = 12;
  Vec x = RandomVector(n * dim, 3), w = RandomVector(dim, 4), r = RandomVector(n * dim, 5);
  Vec out(n * dim), rstd(n);
  auto loss = [&] {
    RmsNormForward(x.data(), w.data(), n, dim, 1e-5f, out.data(), rstd.data(), nullptr);
    return Dot(out, r);
  };
  loss();
  double ss = 0;
  for (int j = 0; j < dim; ++j) ss += x[j] * x[j];
  EXPECT_NEAR(out[3], x[3] / std::sqrt(ss / dim + 1e-5) * w[3], 1e-5);
  Vec dx(x.size()), dw(w.size(), 0.0f);
  RmsNormBackward(r.data(), x.data(), w.data(), rstd.data(), n, dim, dx.data(), dw.data(), nullptr);
  ExpectGradientsMatch({{"x", &x, &dx}, {"w", &w, &dw}}, loss, {.h = 1e-3});
}

TEST(OpsGradTest, Linear) {
  const int64_t n = 9, in = 13, out_dim = 7;
  Vec x = RandomVector(n * in, 6), w = RandomVector(out_dim * in, 7);
  Vec r = RandomVector(n * out_dim, 8), out(n * out_dim), scratch;
  auto loss = [&] {
    LinearForward(x.data(), w.data(), n, in, out_dim, out.data(), scratch, nullptr);
    return Dot(out, r);
  };
  loss();
  double y = 0;
  for (int j = 0; j < in; ++j) y += double{x[2 * in + j]} * w[4 * in + j];
  EXPECT_NEAR(out[2 * out_dim + 4], y, 1e-5);
  // dx accumulates onto what is there when asked to.
  Vec dx(x.size(), 0.5f), dw(w.size(), 0.0f);
  LinearBackward(r.data(), x.data(), w.data(), n, in, out_dim, dx.data(), true, dw.data(), nullptr);
  for (float& f : dx) f -= 0.5f;
  ExpectGradientsMatch({{"x", &x, &dx}, {"w", &w, &dw}}, loss);
}

TEST(OpsGradTest, Rope) {
  const int64_t seq = 5, n = 10;  // two sequences
  const int heads = 3, hd = 8;
  const RopeTable rope(seq, hd, 10000.0f);
  Vec x = RandomVector(n * heads * hd, 9), r = RandomVector(x.size(), 10), y;
  auto loss = [&] {
    y = x;
    RopeForward(y.data(), n, seq, heads, rope, nullptr);
    return Dot(y, r);
  };
  loss();
  // Row 7 is position 2; pair 1 of head 2 turns by 2 * 10000^(-2/8).
  const double theta = 2 * std::pow(10000.0, -2.0 / 8);
  const float* a = &x[(7 * heads + 2) * hd + 2];
  EXPECT_NEAR(y[(7 * heads + 2) * hd + 2], a[0] * std::cos(theta) - a[1] * std::sin(theta), 1e-5);
  EXPECT_EQ(y[0], x[0]);  // position 0 does not turn
  Vec dx = r;
  RopeBackward(dx.data(), n, seq, heads, rope, nullptr);
  ExpectGradientsMatch({{"x", &x, &dx}}, loss);
}

TEST(OpsGradTest, Swiglu) {
  const int64_t count = 40;
  Vec g = RandomVector(count, 11, 3.0f), u = RandomVector(count, 12, 2.0f);
  Vec r = RandomVector(count, 13), h(count);
  auto loss = [&] {
    SwigluForward(g.data(), u.data(), count, h.data(), nullptr);
    return Dot(h, r);
  };
  loss();
  EXPECT_NEAR(h[5], g[5] / (1 + std::exp(-g[5])) * u[5], 1e-6);
  Vec dg(count), du(count);
  SwigluBackward(r.data(), g.data(), u.data(), count, dg.data(), du.data(), nullptr);
  ExpectGradientsMatch({{"gate", &g, &dg}, {"up", &u, &du}}, loss, {.h = 1e-3});
}

TEST(OpsGradTest, ResidualAdd) {
  const int64_t count = 30;
  Vec a = RandomVector(count, 14), b = RandomVector(count, 15), r = RandomVector(count, 16);
  Vec out(count);
  auto loss = [&] {
    AddForward(a.data(), b.data(), count, out.data(), nullptr);
    return Dot(out, r);
  };
  loss();
  EXPECT_EQ(out[3], a[3] + b[3]);
  Vec da(count, 0.0f), db(count, 0.0f);
  AddInto(da.data(), r.data(), count, nullptr);
  AddInto(db.data(), r.data(), count, nullptr);
  ExpectGradientsMatch({{"a", &a, &da}, {"b", &b, &db}}, loss);
}

TEST(OpsGradTest, CrossEntropy) {
  const int64_t n = 5, vocab = 11;
  const std::vector<int32_t> targets = {3, 0, 10, 3, 7};
  Vec logits = RandomVector(n * vocab, 17, 3.0f), losses(n);
  const float scale = 1.0f / n;
  auto loss = [&] {
    CrossEntropyForward(logits.data(), targets.data(), n, vocab, losses.data(), nullptr);
    double s = 0;
    for (float l : losses) s += l;
    return s * scale;
  };
  loss();
  double z = 0;
  for (int j = 0; j < vocab; ++j) z += std::exp(double{logits[2 * vocab + j]});
  EXPECT_NEAR(losses[2], std::log(z) - logits[2 * vocab + 10], 1e-5);
  Vec grad = logits, fused_losses(n);
  CrossEntropyWithGrad(grad.data(), targets.data(), n, vocab, scale, fused_losses.data(), nullptr);
  EXPECT_EQ(fused_losses, losses);
  ExpectGradientsMatch({{"logits", &logits, &grad}}, loss, {.h = 1e-3});
}

TEST(OpsTest, ParallelOpsMatchSerialBitwise) {
  ThreadPool pool(2);
  const int64_t n = 64, dim = 96;
  Vec x = RandomVector(n * dim, 18), w = RandomVector(dim, 19), d = RandomVector(n * dim, 20);
  Vec o1(n * dim), o2(n * dim), r1(n), r2(n);
  RmsNormForward(x.data(), w.data(), n, dim, 1e-5f, o1.data(), r1.data(), nullptr);
  RmsNormForward(x.data(), w.data(), n, dim, 1e-5f, o2.data(), r2.data(), &pool);
  EXPECT_EQ(o1, o2);
  Vec dx1(n * dim), dx2(n * dim), dw1(dim, 0.0f), dw2(dim, 0.0f);
  RmsNormBackward(d.data(), x.data(), w.data(), r1.data(), n, dim, dx1.data(), dw1.data(), nullptr);
  RmsNormBackward(d.data(), x.data(), w.data(), r1.data(), n, dim, dx2.data(), dw2.data(), &pool);
  EXPECT_EQ(dx1, dx2);
  EXPECT_EQ(dw1, dw2);
  std::vector<int32_t> tokens(n);
  for (int64_t i = 0; i < n; ++i) tokens[i] = static_cast<int32_t>((i * 7) % 5);
  Vec t1(5 * dim, 0.0f), t2(5 * dim, 0.0f);
  EmbeddingBackward(tokens.data(), n, d.data(), dim, t1.data(), nullptr);
  EmbeddingBackward(tokens.data(), n, d.data(), dim, t2.data(), &pool);
  EXPECT_EQ(t1, t2);
}

}  // namespace
}  // namespace surge::jobs::train
