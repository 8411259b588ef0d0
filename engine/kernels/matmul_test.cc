// MatMul of every SIMD path against the scalar reference, and the batch
// invariance invariant: a token's outputs do not depend on its batch.
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/kernels/kernels_test_util.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/thread_pool.h"
#include "gtest/gtest.h"

namespace surge::engine::kernels {
namespace {

using testing::kAllTypes;
using testing::Name;
using testing::RandomFloats;
using testing::ScopedIsa;
using testing::TestMatrix;

bool Quantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0; }

std::vector<float> RunMatMul(ThreadPool& pool, const Matrix& w, const std::vector<float>& x,
                             int64_t x_stride, int64_t n, int64_t out_stride) {
  std::vector<float> out(static_cast<size_t>(out_stride * n), -1.0f);
  MatMulScratch scratch;
  MatMul(pool, w, x.data(), x_stride, n, out.data(), out_stride, scratch);
  return out;
}

TEST(MatMulTest, SimdMatchesReference) {
  ThreadPool pool(2);
  struct Shape {
    int64_t rows, cols;
  };
  for (Isa isa : testing::SupportedSimdIsas()) {
    for (DType type : kAllTypes) {
      for (Shape s : {Shape{37, 64}, Shape{16, 96}, Shape{70, 352}, Shape{5, 1024}, Shape{33, 40},
                      Shape{9, 8}, Shape{3, 7}, Shape{9, 1568}, Shape{6, 1580}}) {
        if (Quantized(type) && s.cols % 32 != 0) continue;
        if (type != DType::kF32 && s.cols % 2 != 0) continue;
        const TestMatrix w(type, s.rows, s.cols, 11);
        for (int64_t n : {1, 2, 5, 8, 13, 16, 17, 33}) {
          const int64_t x_stride = s.cols + 3;
          const int64_t out_stride = s.rows + 2;
          const std::vector<float> x = RandomFloats(x_stride * n, 12, 2.0f);
          std::vector<float> want, got;
          {
            ScopedIsa scope(Isa::kReference);
            want = RunMatMul(pool, w.m, x, x_stride, n, out_stride);
          }
          {
            ScopedIsa scope(isa);
            got = RunMatMul(pool, w.m, x, x_stride, n, out_stride);
          }
          std::vector<float> wf(static_cast<size_t>(s.cols));
          for (int64_t r = 0; r < s.rows; ++r) {
            DequantizeRow(type, w.bytes.data() + r * RowBytes(type, s.cols), s.cols, wf.data());
            for (int64_t t = 0; t < n; ++t) {
              const float g = got[t * out_stride + r];
              const float e = want[t * out_stride + r];
              if (Quantized(type)) {  // same integer arithmetic, same f32 sequence
                ASSERT_EQ(g, e) << Name(isa, type) << " r=" << r << " t=" << t;
                continue;
              }
              double mag = 0;
              for (int64_t k = 0; k < s.cols; ++k) mag += std::fabs(wf[k] * x[t * x_stride + k]);
              ASSERT_NEAR(g, e, 1e-6 * mag + 1e-30)
                  << Name(isa, type) << " rows=" << s.rows << " cols=" << s.cols << " r=" << r
                  << " t=" << t;
            }
          }
          // Padding between rows and tokens stays untouched.
          for (int64_t t = 0; t < n; ++t) {
            for (int64_t r = s.rows; r < out_stride; ++r) ASSERT_EQ(got[t * out_stride + r], -1.0f);
          }
        }
      }
    }
  }
}

// The exactly-quantized reference agrees with dequantized f32 math closely.
TEST(MatMulTest, QuantizedReferenceIsCloseToFloat) {
  ThreadPool pool(1);
  ScopedIsa scope(Isa::kReference);
  for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
    const int64_t rows = 8, cols = 256;
    const TestMatrix w(type, rows, cols, 5);
    const std::vector<float> x = RandomFloats(cols, 6);
    const std::vector<float> got = RunMatMul(pool, w.m, x, cols, 1, rows);
    std::vector<float> wf(cols);
    for (int64_t r = 0; r < rows; ++r) {
      DequantizeRow(type, w.bytes.data() + r * RowBytes(type, cols), cols, wf.data());
      double want = 0, mag = 0;
      for (int64_t k = 0; k < cols; ++k) {
        want += wf[k] * x[k];
        mag += std::fabs(wf[k] * x[k]);
      }
      EXPECT_NEAR(got[r], want, 0.01 * mag) << Traits(type).name;
    }
  }
}

TEST(MatMulTest, BatchInvariance) {
  ThreadPool pool1(1);
  ThreadPool pool2(2);
  constexpr int kMaxTokens = 20;
  for (Isa isa : testing::SupportedIsas()) {
    ScopedIsa scope(isa);
    for (DType type : kAllTypes) {
      for (int64_t cols : {160, 104, 1600, 1580}) {
        if (Quantized(type) && cols % 32 != 0) continue;
        const int64_t rows = 45;
        const TestMatrix w(type, rows, cols, 21);
        const std::vector<float> x = RandomFloats(cols * kMaxTokens, 22);
        // Each token alone, single thread.
        std::vector<float> alone(static_cast<size_t>(rows * kMaxTokens));
        for (int t = 0; t < kMaxTokens; ++t) {
          const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
          const std::vector<float> o = RunMatMul(pool1, w.m, xt, cols, 1, rows);
          std::memcpy(&alone[static_cast<size_t>(t * rows)], o.data(), rows * sizeof(float));
        }
        for (ThreadPool* pool : {&pool1, &pool2}) {
          for (int n = 1; n <= kMaxTokens; ++n) {
            // Tokens t..t+n-1 as one batch, for a few window starts.
            for (int start : {0, kMaxTokens - n}) {
              const std::vector<float> xs(x.begin() + start * cols, x.begin() + (start + n) * cols);
              const std::vector<float> o = RunMatMul(*pool, w.m, xs, cols, n, rows);
              ASSERT_EQ(std::memcmp(o.data(), &alone[static_cast<size_t>(start * rows)],
                                    static_cast<size_t>(n * rows) * sizeof(float)),
                        0)
                  << Name(isa, type) << " cols=" << cols << " n=" << n << " start=" << start
                  << " threads=" << pool->num_threads();
            }
          }
        }
      }
    }
  }
}

// A row's outputs do not depend on the rows around it (tile shape).
TEST(MatMulTest, RowInvariance) {
  ThreadPool pool(2);
  for (Isa isa : testing::SupportedIsas()) {
    ScopedIsa scope(isa);
    for (DType type : kAllTypes) {
      const int64_t rows = 21, cols = 96;
      const TestMatrix w(type, rows, cols, 31);
      const std::vector<float> x = RandomFloats(cols * 7, 32);
      for (int64_t n : {1, 7}) {
        const std::vector<float> all = RunMatMul(pool, w.m, x, cols, n, rows);
        for (int64_t r = 0; r < rows; ++r) {
          Matrix one = w.m;
          one.rows = 1;
          one.data = w.bytes.data() + r * RowBytes(type, cols);
          const std::vector<float> o = RunMatMul(pool, one, x, cols, n, 1);
          for (int64_t t = 0; t < n; ++t) {
            ASSERT_EQ(std::memcmp(&o[static_cast<size_t>(t)],
                                  &all[static_cast<size_t>(t * rows + r)], sizeof(float)),
                      0)
                << Name(isa, type) << " r=" << r << " t=" << t;
          }
        }
      }
    }
  }
}

// A group (shared activations, one pool job) gives every matrix bitwise what
// MatMul() of that matrix alone gives, also when the group mixes types.
TEST(MatMulTest, GroupMatchesSeparateCalls) {
  ThreadPool pool(2);
  const int64_t cols = 128;
  for (Isa isa : testing::SupportedIsas()) {
    ScopedIsa scope(isa);
    for (DType type : kAllTypes) {
      const DType other = type == DType::kQ8_0 ? DType::kQ4_0 : DType::kQ8_0;
      const TestMatrix a(type, 70, cols, 41), b(type, 9, cols, 42), c(other, 33, cols, 43);
      for (int64_t n : {1, 3, 9, 40}) {
        const std::vector<float> x = RandomFloats(cols * n, 44);
        std::vector<float> ga(70 * n), gb(9 * n), gc(33 * n);
        const MatMulOut group[] = {{a.m, ga.data(), 70}, {b.m, gb.data(), 9}, {c.m, gc.data(), 33}};
        MatMulScratch scratch;
        MatMulGroup(pool, group, x.data(), cols, n, scratch);
        EXPECT_EQ(ga, RunMatMul(pool, a.m, x, cols, n, 70)) << Name(isa, type) << " n=" << n;
        EXPECT_EQ(gb, RunMatMul(pool, b.m, x, cols, n, 9)) << Name(isa, type) << " n=" << n;
        EXPECT_EQ(gc, RunMatMul(pool, c.m, x, cols, n, 33)) << Name(isa, type) << " n=" << n;
      }
    }
  }
}

// The SwiGLU half gives bitwise SiluMul() of the two separate products on
// every path, fused (streaming and multi-pass token counts) or not (long
// calls), and leaves the padding between output rows alone.
TEST(MatMulTest, SwiGluMatchesSeparateProducts) {
  ThreadPool pool(2);
  struct Shape {
    int64_t rows, cols;
  };
  for (Isa isa : testing::SupportedIsas()) {
    ScopedIsa scope(isa);
    for (DType type : kAllTypes) {
      for (Shape s : {Shape{70, 128}, Shape{300, 64}, Shape{5, 96}}) {
        const TestMatrix gate(type, s.rows, s.cols, 51), up(type, s.rows, s.cols, 52);
        for (int64_t n : {1, 5, 16, 17, 40, 70}) {
          const int64_t x_stride = s.cols + 1;
          const int64_t out_stride = s.rows + 3;
          const std::vector<float> x = RandomFloats(x_stride * n, 53, 2.0f);
          const std::vector<float> g = RunMatMul(pool, gate.m, x, x_stride, n, s.rows);
          const std::vector<float> u = RunMatMul(pool, up.m, x, x_stride, n, s.rows);
          std::vector<float> want(static_cast<size_t>(out_stride * n), -1.0f);
          for (int64_t t = 0; t < n; ++t) {
            SiluMul(&g[t * s.rows], &u[t * s.rows], s.rows, &want[t * out_stride]);
          }
          std::vector<float> got(want.size(), -1.0f);
          MatMulScratch scratch;
          MatMulSwiGlu(pool, gate.m, up.m, x.data(), x_stride, n, got.data(), out_stride, scratch);
          ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
              << Name(isa, type) << " rows=" << s.rows << " n=" << n;
        }
      }
    }
  }
}

}  // namespace
}  // namespace surge::engine::kernels
