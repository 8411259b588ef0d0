// Causal attention: forward against a direct restatement, backward against
// finite differences (with and without grouped KV heads), and determinism
// across thread counts.
#include "jobs/train/attention.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "jobs/train/grad_check_test_util.h"

namespace surge::jobs::train {
namespace {

using Vec = std::vector<float>;

// Straight from the definition, in double.
Vec NaiveAttention(const AttentionShape& s, const Vec& q, const Vec& k, const Vec& v) {
  Vec out(s.batch * s.seq_len * s.q_dim());
  const int group = s.n_heads / s.n_kv_heads;
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.n_heads; ++h) {
      const int g = h / group;
      for (int64_t i = 0; i < s.seq_len; ++i) {
        const float* qi = &q[(b * s.seq_len + i) * s.q_dim() + h * s.head_dim];
        std::vector<double> w(i + 1);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          const float* kj = &k[(b * s.seq_len + j) * s.kv_dim() + g * s.head_dim];
          double dot = 0;
          for (int d = 0; d < s.head_dim; ++d) dot += double{qi[d]} * kj[d];
          w[j] = dot / std::sqrt(double{1.0 * s.head_dim});
          mx = std::max(mx, w[j]);
        }
        for (double& x : w) sum += (x = std::exp(x - mx));
        for (int d = 0; d < s.head_dim; ++d) {
          double acc = 0;
          for (int64_t j = 0; j <= i; ++j) {
            acc += w[j] / sum * v[(b * s.seq_len + j) * s.kv_dim() + g * s.head_dim + d];
          }
          out[(b * s.seq_len + i) * s.q_dim() + h * s.head_dim + d] = static_cast<float>(acc);
        }
      }
    }
  }
  return out;
}

class AttentionTest : public testing::TestWithParam<int> {};  // KV heads

TEST_P(AttentionTest, ForwardMatchesDefinitionAndBackwardMatchesFiniteDifferences) {
  const AttentionShape s{2, 7, 4, GetParam(), 6};
  const int64_t rows = s.batch * s.seq_len;
  Vec q = RandomVector(rows * s.q_dim(), 1, 1.5f), k = RandomVector(rows * s.kv_dim(), 2, 1.5f);
  Vec v = RandomVector(rows * s.kv_dim(), 3), r = RandomVector(rows * s.q_dim(), 4);
  Vec probs(s.probs_size()), out(rows * s.q_dim());
  auto loss = [&] {
    AttentionForward(s, q.data(), k.data(), v.data(), probs.data(), out.data(), nullptr);
    return Dot(out, r);
  };
  loss();
  const Vec want = NaiveAttention(s, q, k, v);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want[i], 1e-5) << i;
  Vec dq(q.size()), dk(k.size()), dv(v.size());
  AttentionBackward(s, r.data(), q.data(), k.data(), v.data(), probs.data(), dq.data(), dk.data(),
                    dv.data(), nullptr);
  ExpectGradientsMatch({{"q", &q, &dq}, {"k", &k, &dk}, {"v", &v, &dv}}, loss, {.h = 1e-3});
}

INSTANTIATE_TEST_SUITE_P(KvHeads, AttentionTest, testing::Values(4, 2, 1));

TEST(AttentionTest, SameBitsForAnyThreadCount) {
  const AttentionShape s{3, 33, 4, 2, 16};
  const int64_t rows = s.batch * s.seq_len;
  const Vec q = RandomVector(rows * s.q_dim(), 5), k = RandomVector(rows * s.kv_dim(), 6);
  const Vec v = RandomVector(rows * s.kv_dim(), 7), d = RandomVector(rows * s.q_dim(), 8);
  engine::kernels::ThreadPool pool(2);
  Vec results[2][4];
  for (int t = 0; t < 2; ++t) {
    engine::kernels::ThreadPool* p = t == 0 ? nullptr : &pool;
    Vec probs(s.probs_size()), out(rows * s.q_dim());
    Vec dq(q.size()), dk(k.size()), dv(v.size());
    AttentionForward(s, q.data(), k.data(), v.data(), probs.data(), out.data(), p);
    AttentionBackward(s, d.data(), q.data(), k.data(), v.data(), probs.data(), dq.data(), dk.data(),
                      dv.data(), p);
    results[t][0] = out;
    results[t][1] = dq;
    results[t][2] = dk;
    results[t][3] = dv;
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(results[0][i], results[1][i]) << i;
}

}  // namespace
}  // namespace surge::jobs::train
