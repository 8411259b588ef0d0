// Micro-benchmarks of the compute kernels. MatMul reports GB/s of weights
// streamed for one token (a decode step is a chain of GEMVs) and GFLOP/s for
// batches (prompt processing). Runs on a 2-thread pool by default
// (SURGE_BENCH_THREADS overrides); SURGE_KERNELS picks the path.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/dispatch.h"
#include "engine/kernels/ops.h"
#include "engine/kernels/quantize.h"
#include "engine/kernels/thread_pool.h"

namespace surge::engine::kernels {
namespace {

constexpr DType kTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0};

ThreadPool& Pool() {
  static ThreadPool* pool = [] {
    const char* env = std::getenv("SURGE_BENCH_THREADS");
    return new ThreadPool(env ? std::atoi(env) : 2);
  }();
  return *pool;
}

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

void BM_MatMul(benchmark::State& state) {
  const DType type = kTypes[state.range(0)];
  const int64_t rows = state.range(1), cols = state.range(2), n = state.range(3);
  const int64_t row_bytes = RowBytes(type, cols);
  std::vector<uint8_t> w(static_cast<size_t>(row_bytes * rows));
  const std::vector<float> row = Random(cols, 1);
  for (int64_t r = 0; r < rows; ++r) QuantizeRow(type, row.data(), cols, w.data() + r * row_bytes);
  const Matrix m{type, w.data(), rows, cols};
  const std::vector<float> x = Random(cols * n, 2);
  std::vector<float> out(static_cast<size_t>(rows * n));
  MatMulScratch scratch;
  for (auto _ : state) {
    MatMul(Pool(), m, x.data(), cols, n, out.data(), rows, scratch);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(IsaName(ActiveIsa())) + " " + std::string(Traits(type).name));
  if (n == 1) {
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(row_bytes * rows) / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  } else {
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * rows * cols * n / 1e9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
  }
}

void MatMulArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"type", "rows", "cols", "n"});
  for (int64_t t = 0; t < 5; ++t) {
    // The last shape is larger than L3: every call streams its weights from
    // memory, as a model step does.
    for (auto [rows, cols] :
         {std::pair<int64_t, int64_t>{2048, 768}, {768, 2048}, {32000, 768}, {49152, 2048}}) {
      for (int64_t n : {1, 4, 8, 16, 64, 128}) b->Args({t, rows, cols, n});
    }
  }
}
BENCHMARK(BM_MatMul)->Apply(MatMulArgs)->UseRealTime();

// Roofline for the n = 1 MatMul figures: the pool reading `bytes` of memory
// (split like MatMul rows) as fast as it can.
void BM_MemoryRead(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  std::vector<uint64_t> buf(static_cast<size_t>(bytes / 8), 1);
  std::vector<uint64_t> sums(64);
  for (auto _ : state) {
    Pool().ParallelFor(bytes / 8, 4096, [&](int64_t begin, int64_t end) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int64_t i = begin; i + 4 <= end; i += 4) {
        s0 += buf[static_cast<size_t>(i)];
        s1 += buf[static_cast<size_t>(i + 1)];
        s2 += buf[static_cast<size_t>(i + 2)];
        s3 += buf[static_cast<size_t>(i + 3)];
      }
      sums[static_cast<size_t>(begin * 64 / bytes)] = s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryRead)->Arg(98304000)->Arg(6291456)->UseRealTime();

// One head over a history held in fp16 (type 0) or Q8_0 (type 1) rows, all
// in cache: the arithmetic side of attention. GB/s counts the K and V bytes.
void BM_AttendPaged(benchmark::State& state) {
  const int head_dim = static_cast<int>(state.range(0));
  const int64_t n_ctx = state.range(1);
  const DType type = state.range(2) == 0 ? DType::kF16 : DType::kQ8_0;
  const int block_size = 16, n_kv_heads = 4;
  const int64_t n_blocks = (n_ctx + block_size - 1) / block_size;
  const int64_t rows = n_blocks * n_kv_heads * block_size;
  const int64_t row_bytes = RowBytes(type, head_dim);
  const std::vector<float> kf = Random(rows * head_dim, 3);
  std::vector<uint8_t> k(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r)
    QuantizeRow(type, &kf[r * head_dim], head_dim, &k[r * row_bytes]);
  const std::vector<uint8_t> v = k;
  std::vector<int32_t> table(static_cast<size_t>(n_blocks));
  for (int64_t i = 0; i < n_blocks; ++i)
    table[static_cast<size_t>(i)] = static_cast<int32_t>(n_blocks - 1 - i);
  const PagedKv kv{k.data(), v.data(), table.data(), block_size, n_kv_heads, head_dim, type};
  const std::vector<float> q = Random(head_dim, 4);
  std::vector<float> scores(static_cast<size_t>(n_ctx)), out(static_cast<size_t>(head_dim));
  for (auto _ : state) {
    AttendPaged(q.data(), kv, 1, n_ctx, 0.125f, scores.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(IsaName(ActiveIsa())) + " " + std::string(Traits(type).name));
  state.counters["GB/s"] = benchmark::Counter(2.0 * n_ctx * row_bytes / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttendPaged)
    ->ArgNames({"head_dim", "ctx", "type"})
    ->Args({64, 512, 0})
    ->Args({64, 512, 1})
    ->Args({128, 4096, 0})
    ->Args({128, 4096, 1})
    ->Args({48, 1000, 0});

// `queries` queries over one fp16 history of `ctx` positions, head 64, in
// cache: one AttendPagedGroup call (group 1) or AttendPaged per query (0).
void BM_AttendPagedGroup(benchmark::State& state) {
  const int head_dim = 64, block_size = 16, n_kv_heads = 4;
  const int64_t n_ctx = state.range(0);
  const int n_queries = static_cast<int>(state.range(1));
  const bool group = state.range(2) != 0;
  const int64_t n_blocks = (n_ctx + block_size - 1) / block_size;
  const int64_t rows = n_blocks * n_kv_heads * block_size;
  const int64_t row_bytes = RowBytes(DType::kF16, head_dim);
  const std::vector<float> kf = Random(rows * head_dim, 3), vf = Random(rows * head_dim, 4);
  std::vector<uint8_t> k(static_cast<size_t>(rows * row_bytes)), v(k.size());
  for (int64_t r = 0; r < rows; ++r) {
    QuantizeRow(DType::kF16, &kf[r * head_dim], head_dim, &k[r * row_bytes]);
    QuantizeRow(DType::kF16, &vf[r * head_dim], head_dim, &v[r * row_bytes]);
  }
  std::vector<int32_t> table(static_cast<size_t>(n_blocks));
  for (int64_t i = 0; i < n_blocks; ++i)
    table[static_cast<size_t>(i)] = static_cast<int32_t>(n_blocks - 1 - i);
  const PagedKv kv{k.data(), v.data(), table.data(), block_size, n_kv_heads, head_dim, DType::kF16};
  const std::vector<float> q = Random(n_queries * head_dim, 5);
  std::vector<float> scores(static_cast<size_t>(n_queries * n_ctx));
  std::vector<float> out(static_cast<size_t>(n_queries * head_dim));
  std::vector<AttendQuery> queries;
  for (int i = 0; i < n_queries; ++i) {  // consecutive tokens of a prefill chunk
    queries.push_back(
        {&q[i * head_dim], n_ctx - n_queries + 1 + i, &scores[i * n_ctx], &out[i * head_dim]});
  }
  std::vector<float> scratch(static_cast<size_t>(AttendGroupScratchFloats(kv)));
  for (auto _ : state) {
    if (group) {
      AttendPagedGroup(queries, kv, 1, 0.125f, scratch.data());
    } else {
      for (const AttendQuery& a : queries)
        AttendPaged(a.q, kv, 1, a.n_ctx, 0.125f, a.scores, a.out);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(IsaName(ActiveIsa())));
}
BENCHMARK(BM_AttendPagedGroup)
    ->ArgNames({"ctx", "queries", "group"})
    ->ArgsProduct({{32, 512}, {2, 16}, {0, 1}});

void BM_RmsNorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float> x = Random(n, 5), w = Random(n, 6);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    RmsNorm(x.data(), w.data(), n, 1e-5f, out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_RmsNorm)->Arg(768)->Arg(4096);

void BM_SiluMul(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float> g = Random(n, 7), u = Random(n, 8);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    SiluMul(g.data(), u.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_SiluMul)->Arg(2048)->Arg(14336);

void BM_Rope(benchmark::State& state) {
  std::vector<float> x = Random(12 * 64, 9);
  int64_t pos = 0;
  for (auto _ : state) {
    Rope(x.data(), 12, 64, pos++ % 4096, 10000.0f, RopeStyle::kNeox);
    benchmark::DoNotOptimize(x.data());
  }
}
BENCHMARK(BM_Rope);

// Cost of one empty ThreadPool::Run() on the shared pool.
void BM_ThreadPoolRun(benchmark::State& state) {
  for (auto _ : state) {
    Pool().Run([](int, int) {});
  }
}
BENCHMARK(BM_ThreadPoolRun)->UseRealTime();

}  // namespace
}  // namespace surge::engine::kernels

BENCHMARK_MAIN();
