// Element-wise kernels and paged attention of every SIMD path against the
// scalar reference.
#include "engine/kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "engine/kernels/kernels_test_util.h"
#include "engine/kernels/quantize.h"
#include "gtest/gtest.h"

namespace surge::engine::kernels {
namespace {

using testing::RandomFloats;
using testing::ScopedIsa;

// Runs fn under the reference and under `isa`, returning both results.
template <typename Fn>
std::pair<std::vector<float>, std::vector<float>> Both(Isa isa, Fn fn) {
  std::vector<float> want, got;
  {
    ScopedIsa scope(Isa::kReference);
    want = fn();
  }
  {
    ScopedIsa scope(isa);
    got = fn();
  }
  return {want, got};
}

void ExpectClose(const std::vector<float>& want, const std::vector<float>& got, float rel,
                 float abs, const char* what) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], abs + rel * std::fabs(want[i])) << what << " i=" << i;
  }
}

TEST(OpsTest, RmsNormSiluMulAdd) {
  for (Isa isa : testing::SupportedSimdIsas()) {
    for (int64_t n : {1, 7, 16, 33, 768, 1001}) {
      const std::vector<float> x = RandomFloats(n, 1, 3.0f), w = RandomFloats(n, 2);
      auto [want, got] = Both(isa, [&] {
        std::vector<float> out(static_cast<size_t>(n));
        RmsNorm(x.data(), w.data(), n, 1e-5f, out.data());
        return out;
      });
      ExpectClose(want, got, 1e-5f, 1e-6f, "rms_norm");

      const std::vector<float> g = RandomFloats(n, 3, 6.0f), u = RandomFloats(n, 4);
      std::tie(want, got) = Both(isa, [&] {
        std::vector<float> out(static_cast<size_t>(n));
        SiluMul(g.data(), u.data(), n, out.data());
        return out;
      });
      ExpectClose(want, got, 1e-5f, 1e-6f, "silu_mul");

      std::tie(want, got) = Both(isa, [&] {
        std::vector<float> y = g;
        Add(y.data(), u.data(), n);
        return y;
      });
      ExpectClose(want, got, 0.0f, 0.0f, "add");
    }
    // Silu at the extremes: no NaN, the right limits.
    std::vector<float> g = {-200.0f, -90.0f, -20.0f, 0.0f, 20.0f, 90.0f, 200.0f, -1e30f};
    std::vector<float> one(g.size(), 1.0f), out(g.size());
    ScopedIsa scope(isa);
    SiluMul(g.data(), one.data(), static_cast<int64_t>(g.size()), out.data());
    for (size_t i = 0; i < g.size(); ++i) {
      EXPECT_FALSE(std::isnan(out[i])) << i;
      if (g[i] > 10) {
        EXPECT_FLOAT_EQ(out[i], g[i]);
      }
      if (g[i] < -80) {
        EXPECT_NEAR(out[i], 0.0f, 1e-30f);
      }
    }
  }
}

// Bit for bit, on the values where rounding is delicate: ties, the subnormal
// range, the edge of overflow, signed zeros, infinities and NaN payloads.
TEST(OpsTest, ToHalfMatchesFloatToHalfBitwise) {
  std::vector<float> x = RandomFloats(1000, 5, 4.0f);
  for (float v : {0.0f,
                  -0.0f,
                  1.0f,
                  -2.5f,
                  65504.0f,
                  65519.0f,
                  65520.0f,
                  -1e6f,
                  6e-8f,
                  3e-8f,
                  2.98e-8f,
                  1e-5f,
                  -6.1e-5f,
                  6.1035156e-05f,
                  1e-40f,
                  1.00048828125f,
                  1.00146484375f,
                  2049.0f,
                  2051.0f,
                  std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity()}) {
    x.push_back(v);
  }
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0xffa5a5a5u, 0x7fbfffffu}) {
    float nan;
    std::memcpy(&nan, &bits, 4);
    x.push_back(nan);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 4000; ++i) {  // every exponent, random mantissas
    const uint32_t bits = rng();
    float v;
    std::memcpy(&v, &bits, 4);
    x.push_back(v);
  }
  std::vector<uint16_t> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = FloatToHalf(x[i]);
  for (Isa isa : testing::SupportedSimdIsas()) {
    ScopedIsa scope(isa);
    for (int64_t n :
         {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{33}, static_cast<int64_t>(x.size())}) {
      std::vector<uint16_t> got(static_cast<size_t>(n), 0xdead);
      ToHalf(x.data(), n, got.data());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], want[i])
            << "isa " << static_cast<int>(isa) << " x=" << x[i] << " i=" << i;
      }
    }
  }
}

TEST(OpsTest, RopeBothStyles) {
  for (Isa isa : testing::SupportedSimdIsas()) {
    for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
      for (int head_dim : {48, 64, 128}) {
        for (int64_t pos : {0, 1, 17, 4095, 100000}) {
          const std::vector<float> x0 = RandomFloats(3 * head_dim, 5);
          auto [want, got] = Both(isa, [&] {
            std::vector<float> x = x0;
            Rope(x.data(), 3, head_dim, pos, 10000.0f, style);
            return x;
          });
          ExpectClose(want, got, 1e-6f, 1e-6f, "rope");
        }
      }
    }
  }
}

TEST(OpsTest, RopeWithAnglesIsRopeBitwise) {
  // A pass rotates with angles computed once per token; every path's
  // Rope(pos) (the reference's per-element one included) must agree exactly.
  for (Isa isa : testing::SupportedIsas()) {
    ScopedIsa scope(isa);
    for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
      for (int head_dim : {8, 48, 64, 128}) {
        for (int64_t pos : {0, 1, 17, 4095, 100000}) {
          for (float base : {10000.0f, 1000000.0f}) {
            std::vector<float> want = RandomFloats(3 * head_dim, 9);
            std::vector<float> got = want;
            std::vector<float> angles(static_cast<size_t>(head_dim));
            Rope(want.data(), 3, head_dim, pos, base, style);
            RopeAngles(head_dim, pos, base, angles.data());
            Rope(got.data(), 3, head_dim, angles.data(), style);
            ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
                << IsaName(isa) << " head_dim " << head_dim << " pos " << pos;
          }
        }
      }
    }
  }
}

TEST(OpsTest, RopeMatchesTheMath) {
  // Head 0, pair i = 1 of a head_dim 8 vector at pos 3: theta = 3 * 10000^(-2/8).
  for (Isa isa : testing::SupportedIsas()) {
    ScopedIsa scope(isa);
    const double theta = 3.0 * std::pow(10000.0, -2.0 / 8);
    std::vector<float> x(8, 0.0f);
    x[2] = 1.0f;  // kNormal pairs (2, 3)
    Rope(x.data(), 1, 8, 3, 10000.0f, RopeStyle::kNormal);
    EXPECT_NEAR(x[2], std::cos(theta), 1e-6);
    EXPECT_NEAR(x[3], std::sin(theta), 1e-6);
    std::vector<float> y(8, 0.0f);
    y[1] = 1.0f;  // kNeox pairs (1, 5)
    Rope(y.data(), 1, 8, 3, 10000.0f, RopeStyle::kNeox);
    EXPECT_NEAR(y[1], std::cos(theta), 1e-6);
    EXPECT_NEAR(y[5], std::sin(theta), 1e-6);
    EXPECT_EQ(y[2], 0.0f);
  }
}

// A paged cache with shuffled blocks, its rows in `type` (kF16 or kQ8_0).
struct TestCache {
  TestCache(int head_dim, int n_kv_heads, int block_size, int64_t n_ctx, uint32_t seed,
            DType type = DType::kF16) {
    const int64_t n_blocks = (n_ctx + block_size - 1) / block_size + 3;
    const int64_t rows = n_blocks * n_kv_heads * block_size;
    const int64_t row_bytes = RowBytes(type, head_dim);
    const std::vector<float> kf = RandomFloats(rows * head_dim, seed),
                             vf = RandomFloats(rows * head_dim, seed + 1);
    k.resize(static_cast<size_t>(rows * row_bytes));
    v.resize(static_cast<size_t>(rows * row_bytes));
    for (int64_t r = 0; r < rows; ++r) {
      QuantizeRow(type, &kf[static_cast<size_t>(r * head_dim)], head_dim, &k[r * row_bytes]);
      QuantizeRow(type, &vf[static_cast<size_t>(r * head_dim)], head_dim, &v[r * row_bytes]);
    }
    table.resize(static_cast<size_t>(n_blocks));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(seed));
    kv = PagedKv{k.data(), v.data(), table.data(), block_size, n_kv_heads, head_dim, type};
  }
  // Value d of V at position p, head h, as the cache holds it.
  float V(int64_t p, int h, int d) const {
    const int64_t block = table[static_cast<size_t>(p / kv.block_size)];
    const int64_t row = (block * kv.n_kv_heads + h) * kv.block_size + p % kv.block_size;
    std::vector<float> values(static_cast<size_t>(kv.head_dim));
    DequantizeRow(kv.type, &v[row * RowBytes(kv.type, kv.head_dim)], kv.head_dim, values.data());
    return values[static_cast<size_t>(d)];
  }
  std::vector<uint8_t> k, v;
  std::vector<int32_t> table;
  PagedKv kv;
};

// Every SIMD path against the reference over a shuffled cache of `type` rows.
void ExpectAttendMatchesReference(DType type, std::initializer_list<int> head_dims) {
  for (Isa isa : testing::SupportedSimdIsas()) {
    for (int head_dim : head_dims) {
      for (int64_t n_ctx : {1, 5, 16, 37, 300}) {
        const TestCache cache(head_dim, 3, 16, n_ctx, static_cast<uint32_t>(head_dim + n_ctx),
                              type);
        const std::vector<float> q = RandomFloats(head_dim, 9, 2.0f);
        const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        auto [want, got] = Both(isa, [&] {
          std::vector<float> scores(static_cast<size_t>(n_ctx)), out(static_cast<size_t>(head_dim));
          AttendPaged(q.data(), cache.kv, 2, n_ctx, scale, scores.data(), out.data());
          return out;
        });
        ExpectClose(want, got, 1e-4f, 1e-5f, type == DType::kF16 ? "attend f16" : "attend q8_0");
      }
    }
  }
}

TEST(OpsTest, AttendPagedMatchesReference) {
  ExpectAttendMatchesReference(DType::kF16, {8, 24, 40, 48, 64, 96, 120, 128, 136, 256});
}

TEST(OpsTest, AttendPagedIsAWeightedMeanOfValues) {
  // One position: the output is exactly V[0]; equal scores: the mean of V.
  for (DType type : {DType::kF16, DType::kQ8_0}) {
    for (Isa isa : testing::SupportedIsas()) {
      ScopedIsa scope(isa);
      const TestCache cache(64, 1, 4, 6, 3, type);
      std::vector<float> q(64, 0.0f), scores(6), out(64);
      AttendPaged(q.data(), cache.kv, 0, 1, 1.0f, scores.data(), out.data());
      for (int d = 0; d < 64; ++d) EXPECT_EQ(out[d], cache.V(0, 0, d)) << IsaName(isa);
      AttendPaged(q.data(), cache.kv, 0, 6, 1.0f, scores.data(), out.data());
      for (int d = 0; d < 64; ++d) {
        float mean = 0;
        for (int64_t p = 0; p < 6; ++p) mean += cache.V(p, 0, d);
        EXPECT_NEAR(out[d], mean / 6, 1e-5) << IsaName(isa) << " " << Traits(type).name;
      }
    }
  }
}

TEST(OpsTest, AttendPagedOverQ8RowsMatchesReference) {
  ExpectAttendMatchesReference(DType::kQ8_0, {32, 64, 96, 128, 160, 256});
}

TEST(OpsTest, AttendPagedGroupIsBitwiseAttendPagedPerQuery) {
  // Queries of different history lengths (empty, inside one block, block
  // edges, several blocks; more than one group's worth) over one cache: each
  // must get exactly what it gets alone, on every path.
  const std::vector<int64_t> lengths = {37, 0, 1, 4,  5,  16, 17,  300, 299, 15,
                                        64, 3, 2, 33, 48, 49, 250, 7,   8,   31};
  for (DType type : {DType::kF16, DType::kQ8_0}) {
    const std::vector<int> dims = type == DType::kF16 ? std::vector<int>{8, 24, 64, 120, 128, 136}
                                                      : std::vector<int>{32, 64, 96, 128, 160};
    for (Isa isa : testing::SupportedIsas()) {
      ScopedIsa scope(isa);
      for (int head_dim : dims) {
        const TestCache cache(head_dim, 2, 16, 300, static_cast<uint32_t>(head_dim), type);
        const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        for (size_t n_queries : {size_t{2}, size_t{5}, lengths.size()}) {
          std::vector<std::vector<float>> q, scores, out;
          std::vector<AttendQuery> queries;
          for (size_t i = 0; i < n_queries; ++i) {
            q.push_back(RandomFloats(head_dim, static_cast<uint32_t>(100 + i), 2.0f));
            scores.emplace_back(300);
            out.emplace_back(static_cast<size_t>(head_dim), -1.0f);
          }
          for (size_t i = 0; i < n_queries; ++i)
            queries.push_back({q[i].data(), lengths[i], scores[i].data(), out[i].data()});
          std::vector<float> scratch(static_cast<size_t>(AttendGroupScratchFloats(cache.kv)));
          AttendPagedGroup(queries, cache.kv, 1, scale, scratch.data());
          for (size_t i = 0; i < n_queries; ++i) {
            std::vector<float> alone_scores(300), alone(static_cast<size_t>(head_dim));
            AttendPaged(q[i].data(), cache.kv, 1, lengths[i], scale, alone_scores.data(),
                        alone.data());
            EXPECT_EQ(0, std::memcmp(alone.data(), out[i].data(), alone.size() * sizeof(float)))
                << IsaName(isa) << " " << Traits(type).name << " head_dim " << head_dim << " n_ctx "
                << lengths[i] << " of " << n_queries;
          }
        }
      }
    }
  }
}

TEST(OpsTest, AttendPagedOverQ8RowsStaysCloseToFp16) {
  // The same history held in fp16 and in Q8_0: 8-bit rows (a scale per 32
  // values) move the output by well under 1% of the values' spread.
  const int head_dim = 128;
  const int64_t n_ctx = 200;
  const TestCache half(head_dim, 2, 16, n_ctx, 11, DType::kF16);
  const TestCache q8(head_dim, 2, 16, n_ctx, 11, DType::kQ8_0);
  const std::vector<float> q = RandomFloats(head_dim, 5, 2.0f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::vector<float> scores(static_cast<size_t>(n_ctx)), a(head_dim), b(head_dim);
  AttendPaged(q.data(), half.kv, 1, n_ctx, scale, scores.data(), a.data());
  AttendPaged(q.data(), q8.kv, 1, n_ctx, scale, scores.data(), b.data());
  float worst = 0.0f;
  for (int d = 0; d < head_dim; ++d) worst = std::max(worst, std::fabs(a[d] - b[d]));
  EXPECT_LT(worst, 0.01f);
  EXPECT_GT(worst, 0.0f);  // the rows really are 8-bit
}

}  // namespace
}  // namespace surge::engine::kernels
