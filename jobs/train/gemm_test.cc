// Gemm against a plain double-precision product, and its determinism
// contract: the same bits for any thread count and any tile position.
#include "jobs/train/gemm.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "jobs/train/grad_check_test_util.h"

namespace surge::jobs::train {
namespace {

using Vec = std::vector<float>;

struct Case {
  int64_t m, n, k;
};

// C = (acc ? C0 : 0) + A · B in double, A read through `a`.
Vec Naive(const Case& s, StridedMatrix a, const Vec& b, const Vec& c0, bool acc) {
  Vec c(s.m * s.n);
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double sum = acc ? c0[i * s.n + j] : 0.0;
      for (int64_t l = 0; l < s.k; ++l) {
        sum += double{a.data[i * a.row_stride + l * a.col_stride]} * b[l * s.n + j];
      }
      c[i * s.n + j] = static_cast<float>(sum);
    }
  }
  return c;
}

class GemmTest : public testing::TestWithParam<Case> {};

TEST_P(GemmTest, MatchesNaiveProduct) {
  const Case s = GetParam();
  const Vec a = RandomVector(s.m * s.k, 1), b = RandomVector(s.k * s.n, 2);
  const Vec c0 = RandomVector(s.m * s.n, 3);
  const Vec at = [&] {  // A stored transposed: [k, m]
    Vec t(a.size());
    Transpose(a.data(), s.m, s.k, t.data());
    return t;
  }();
  for (bool acc : {false, true}) {
    for (bool transposed : {false, true}) {
      const StridedMatrix view = transposed ? StridedMatrix::Transposed(at.data(), s.m)
                                            : StridedMatrix::RowMajor(a.data(), s.k);
      const Vec want = Naive(s, view, b, c0, acc);
      Vec got = c0;
      Gemm(s.m, s.n, s.k, view, b.data(), s.n, got.data(), s.n, acc, nullptr);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-4 * (1 + std::sqrt(static_cast<double>(s.k))))
            << "element " << i << " acc " << acc << " transposed " << transposed;
      }
    }
  }
}

// Edge tiles (m % 6, n % 16), several depth panels (k > 256), several row
// blocks (m > 96), and the degenerate shapes.
INSTANTIATE_TEST_SUITE_P(Shapes, GemmTest,
                         testing::Values(Case{1, 1, 1}, Case{6, 16, 4}, Case{7, 17, 5},
                                         Case{13, 40, 300}, Case{100, 33, 530}, Case{200, 48, 64},
                                         Case{5, 3, 600}));

TEST(GemmTest, SameBitsForAnyThreadCountAndTilePosition) {
  const int64_t m = 301, n = 70, k = 517;
  const Vec a = RandomVector(m * k, 4), b = RandomVector(k * n, 5);
  Vec serial(m * n), parallel(m * n);
  Gemm(m, n, k, StridedMatrix::RowMajor(a.data(), k), b.data(), n, serial.data(), n, false,
       nullptr);
  engine::kernels::ThreadPool pool(2);
  Gemm(m, n, k, StridedMatrix::RowMajor(a.data(), k), b.data(), n, parallel.data(), n, false,
       &pool);
  EXPECT_EQ(serial, parallel);
  // Row 300 sits in an edge tile here; alone it is a 1-row product. Its
  // bits must not depend on that.
  Vec row(n);
  Gemm(1, n, k, StridedMatrix::RowMajor(a.data() + 300 * k, k), b.data(), n, row.data(), n, false,
       nullptr);
  EXPECT_EQ(0, std::memcmp(row.data(), serial.data() + 300 * n, n * sizeof(float)));
}

TEST(GemmTest, EmptyDepthClearsOrKeeps) {
  Vec c = {1, 2, 3, 4};
  Gemm(2, 2, 0, StridedMatrix::RowMajor(nullptr, 0), nullptr, 2, c.data(), 2, true, nullptr);
  EXPECT_EQ(c, (Vec{1, 2, 3, 4}));
  Gemm(2, 2, 0, StridedMatrix::RowMajor(nullptr, 0), nullptr, 2, c.data(), 2, false, nullptr);
  EXPECT_EQ(c, (Vec{0, 0, 0, 0}));
}

TEST(GemmTest, Transpose) {
  const Vec in = {1, 2, 3, 4, 5, 6};  // 2 x 3
  Vec out(6);
  Transpose(in.data(), 2, 3, out.data());
  EXPECT_EQ(out, (Vec{1, 4, 2, 5, 3, 6}));
}

}  // namespace
}  // namespace surge::jobs::train
