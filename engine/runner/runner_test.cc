// The runner against the plain-loop reference, and the batch-invariance
// invariant: a sequence's logits are bitwise the same alone, in any slot of a
// batch of 16, and with its prompt split into any chunks.
#include "engine/runner/runner.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/kv/kv_cache.h"
#include "engine/model/model.h"
#include "engine/model/model_init.h"
#include "engine/runner/reference_forward.h"
#include "gtest/gtest.h"

namespace surge::engine::runner {
namespace {

using kernels::DType;

constexpr int32_t kBlockSize = 16;

std::string TempModel(const std::string& arch, DType type, int n_kv_heads, int n_heads) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("surge_runner_test_" + arch + "_" + std::to_string(static_cast<int>(type)) +
                       "_" + std::to_string(n_kv_heads) + "_" + std::to_string(n_heads) + "_" +
                       std::to_string(getpid()) + ".gguf"))
                         .string();
  model::InitOptions options;
  options.arch = arch;
  options.preset = "tiny";
  options.type = type;
  options.seed = 7;
  options.n_kv_heads = n_kv_heads;
  options.n_heads = n_heads;
  absl::Status s = model::WriteRandomModel(options, path);
  EXPECT_TRUE(s.ok()) << s;
  return path;
}

std::vector<int32_t> Tokens(int n, int seed, int32_t n_vocab) {
  std::mt19937 rng(seed);
  std::vector<int32_t> out(n);
  for (int32_t& t : out) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  return out;
}

// One cache per test; each sequence gets its own disjoint run of blocks.
struct Harness {
  explicit Harness(const model::Model& m, kv::KvType kv_type, int threads = 2,
                   int32_t num_blocks = 512)
      : cache({m.config().n_layers, m.config().n_kv_heads, m.config().head_dim, kBlockSize,
               num_blocks, kv_type}),
        runner(m, cache, threads) {}

  std::vector<int32_t> Table(int first_block, int n_tokens) {
    std::vector<int32_t> t((n_tokens + kBlockSize - 1) / kBlockSize);
    std::iota(t.begin(), t.end(), first_block);
    return t;
  }

  // Runs `tokens` through the model in the given chunk sizes; returns the
  // logits after each chunk's last token, concatenated.
  std::vector<float> RunChunked(const std::vector<int32_t>& tokens, const std::vector<int>& chunks,
                                int first_block) {
    std::vector<int32_t> table = Table(first_block, static_cast<int>(tokens.size()));
    std::vector<float> out;
    int64_t pos = 0;
    for (int n : chunks) {
      SequenceChunk c{std::span<const int32_t>(tokens).subspan(pos, n), pos, table, true};
      std::span<float> logits = runner.Forward({&c, 1});
      out.insert(out.end(), logits.begin(), logits.end());
      pos += n;
    }
    return out;
  }

  kv::KvCache cache;
  Runner runner;
};

struct Case {
  std::string arch;
  DType type;
  int n_kv_heads;
  int n_heads = 0;  // 0: tiny's 6 (head size 48); 9 gives 32, for 8-bit K/V rows
  kv::KvType kv_type = kv::KvType::kF16;
};

class RunnerTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    path_ = TempModel(GetParam().arch, GetParam().type, GetParam().n_kv_heads, GetParam().n_heads);
    auto m = model::Model::Load(path_);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *std::move(m);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_;
  std::unique_ptr<model::Model> model_;
};

TEST_P(RunnerTest, MatchesReferenceForward) {
  const int32_t n_vocab = model_->config().n_vocab;
  std::vector<int32_t> tokens = Tokens(21, 1, n_vocab);
  std::vector<float> expected = ReferenceForward(*model_, tokens);
  Harness h(*model_, GetParam().kv_type);
  // Every position's logits: feed one token at a time.
  std::vector<float> got = h.RunChunked(tokens, std::vector<int>(tokens.size(), 1), 0);
  ASSERT_EQ(got.size(), expected.size());
  // Quantized weights quantize the activations to 8 bits as well, and 8-bit
  // K/V rows round what attention reads, so they get a looser bound than the
  // float types (the reference keeps K/V in f32).
  const bool quantized = GetParam().type == DType::kQ8_0 || GetParam().type == DType::kQ4_0 ||
                         GetParam().kv_type == kv::KvType::kQ8_0;
  const double tol = quantized ? 0.06 : 2e-3;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    double err = 0, norm = 0;
    for (int32_t i = 0; i < n_vocab; ++i) {
      const double e = expected[pos * n_vocab + i], g = got[pos * n_vocab + i];
      err += (e - g) * (e - g);
      norm += e * e;
    }
    EXPECT_LT(std::sqrt(err / norm), tol) << "position " << pos;
  }
}

TEST_P(RunnerTest, LogitsAreBitwiseBatchInvariant) {
  const int32_t n_vocab = model_->config().n_vocab;
  const std::vector<int32_t> tokens = Tokens(37, 2, n_vocab);
  Harness h(*model_, GetParam().kv_type);
  const std::vector<float> alone = h.RunChunked(tokens, {37}, 0);
  ASSERT_EQ(alone.size(), static_cast<size_t>(n_vocab));

  // Different prefill chunkings of the same prompt: the last logits agree.
  for (const std::vector<int>& chunks :
       std::vector<std::vector<int>>{{1, 36}, {16, 16, 5}, {5, 7, 11, 13, 1}, {36, 1}}) {
    std::vector<float> got = h.RunChunked(tokens, chunks, 8);
    ASSERT_EQ(
        0, std::memcmp(alone.data(), got.data() + got.size() - n_vocab, n_vocab * sizeof(float)));
  }

  // Inside a batch of 16 sequences, in three different slots, mixed with
  // other prompts of other lengths.
  for (int slot : {0, 7, 15}) {
    std::vector<std::vector<int32_t>> prompts(16), tables(16);
    std::vector<SequenceChunk> batch(16);
    for (int s = 0; s < 16; ++s) {
      prompts[s] = s == slot ? tokens : Tokens(3 + 5 * s, 100 + s, n_vocab);
      tables[s] = h.Table(16 + 4 * s, static_cast<int>(prompts[s].size()));
      batch[s] = {prompts[s], 0, tables[s], true};
    }
    std::span<float> logits = h.runner.Forward(batch);
    ASSERT_EQ(0, std::memcmp(alone.data(), logits.data() + slot * n_vocab, n_vocab * sizeof(float)))
        << "slot " << slot;
  }

  // With one compute thread instead of two.
  Harness single(*model_, GetParam().kv_type, /*threads=*/1);
  std::vector<float> got = single.RunChunked(tokens, {37}, 0);
  ASSERT_EQ(0, std::memcmp(alone.data(), got.data(), n_vocab * sizeof(float)));
}

TEST_P(RunnerTest, DecodeStepsAreBatchInvariant) {
  // A decode token next to 15 other decoding sequences gives the same logits
  // as when it decodes alone.
  const int32_t n_vocab = model_->config().n_vocab;
  const std::vector<int32_t> tokens = Tokens(20, 3, n_vocab);
  Harness h(*model_, GetParam().kv_type);
  std::vector<float> alone = h.RunChunked(tokens, {19, 1}, 0);
  const float* expected = alone.data() + n_vocab;

  std::vector<std::vector<int32_t>> prompts(16), tables(16);
  for (int s = 0; s < 16; ++s) {
    prompts[s] = s == 9 ? tokens : Tokens(10 + s, 200 + s, n_vocab);
    tables[s] = h.Table(16 + 4 * s, static_cast<int>(prompts[s].size()));
    SequenceChunk c{std::span<const int32_t>(prompts[s]).first(prompts[s].size() - 1), 0, tables[s],
                    false};
    h.runner.Forward({&c, 1});
  }
  std::vector<SequenceChunk> batch(16);
  for (int s = 0; s < 16; ++s) {
    const int64_t last = static_cast<int64_t>(prompts[s].size()) - 1;
    batch[s] = {std::span<const int32_t>(prompts[s]).subspan(last, 1), last, tables[s], true};
  }
  std::span<float> logits = h.runner.Forward(batch);
  EXPECT_EQ(0, std::memcmp(expected, logits.data() + 9 * n_vocab, n_vocab * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(
    Models, RunnerTest,
    ::testing::Values(Case{"llama", DType::kF32, 0}, Case{"llama", DType::kQ8_0, 2},
                      Case{"llama", DType::kQ4_0, 0}, Case{"llama", DType::kF16, 3},
                      Case{"llama", DType::kBF16, 0}, Case{"qwen2", DType::kF32, 2},
                      Case{"qwen2", DType::kQ8_0, 0}, Case{"qwen3", DType::kF32, 3},
                      Case{"qwen3", DType::kQ8_0, 0},
                      Case{"llama", DType::kF32, 3, 9, kv::KvType::kQ8_0},
                      Case{"qwen3", DType::kQ8_0, 0, 9, kv::KvType::kQ8_0}),
    [](const ::testing::TestParamInfo<Case>& p) {
      std::string name = p.param.arch + "_" + std::string(kernels::Traits(p.param.type).name) +
                         "_kv" + std::to_string(p.param.n_kv_heads);
      if (p.param.n_heads != 0) name += "_heads" + std::to_string(p.param.n_heads);
      if (p.param.kv_type != kv::KvType::kF16) name += "_kvrows_q8_0";
      return name;
    });

}  // namespace
}  // namespace surge::engine::runner
