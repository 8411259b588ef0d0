// `surge run` as a user runs it on a tiny random model: generation writes
// only the generated text to stdout and is reproducible (greedy, or sampled
// with a seed); `--bench --json` prints one object with the figures asked
// for, batch sizes included; bad input gets a message and a non-zero exit.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/cli.h"

namespace surge::e2e {
namespace {

class RunE2eTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::getenv("SURGE_BINARY") == nullptr) return;
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("surge_run_e2e_" + std::to_string(getpid())));
    std::filesystem::create_directories(*dir_);
    const CliOutput init =
        RunSurge("model init --arch llama --preset tiny --type q8_0 --seed 3 -o " + Model());
    ASSERT_EQ(init.exit_code, 0) << init.text;
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << "SURGE_BINARY not set";
  }
  static std::string Model() { return (*dir_ / "tiny-q8_0.gguf").string(); }

  static std::filesystem::path* dir_;
};

std::filesystem::path* RunE2eTest::dir_ = nullptr;

TEST_F(RunE2eTest, GreedyAndSeededGenerationRepeatExactly) {
  const std::string greedy = "run -m " + Model() + " -p \"Once upon a time\" -n 12 --temp 0";
  const CliOutput a = RunSurge(greedy, /*merge_stderr=*/false);
  const CliOutput b = RunSurge(greedy, /*merge_stderr=*/false);
  ASSERT_EQ(a.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0);
  EXPECT_EQ(a.text, b.text);
  ASSERT_FALSE(a.text.empty());
  EXPECT_EQ(a.text.back(), '\n');
  // Logs go to stderr only: nothing on stdout looks like a log line.
  EXPECT_EQ(a.text.find("[info]"), std::string::npos) << a.text;
  EXPECT_EQ(a.text.find("generated"), std::string::npos) << a.text;

  const std::string sampled = "run -m " + Model() +
                              " -p \"Once upon a time\" -n 16 --temp 1.2 --top-k 0 --top-p 1 "
                              "--min-p 0 --ignore-eos --seed ";
  const CliOutput s1 = RunSurge(sampled + "11", false);
  const CliOutput s2 = RunSurge(sampled + "11", false);
  ASSERT_EQ(s1.exit_code, 0);
  EXPECT_EQ(s1.text, s2.text);
  // A different seed over 16 nearly uniform draws from 32000 tokens (a random
  // model) gives different text.
  const CliOutput s3 = RunSurge(sampled + "12", false);
  ASSERT_EQ(s3.exit_code, 0);
  EXPECT_NE(s1.text, s3.text);
}

TEST_F(RunE2eTest, BenchJsonHasEveryFigureForTheBatchSizesAsked) {
  const CliOutput r = RunSurge("run -m " + Model() +
                                   " --bench --json --no-mixed --repetitions 1 --pp-tokens 16 "
                                   "--tg-tokens 4 --batch-sizes 1,3 --batch-context 100",
                               false);
  ASSERT_EQ(r.exit_code, 0) << r.text;
  const nlohmann::json j = nlohmann::json::parse(r.text, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.text;
  ASSERT_TRUE(j.contains("pp16_tps")) << r.text;
  ASSERT_TRUE(j.contains("tg4_tps")) << r.text;
  EXPECT_GT(j["pp16_tps"].get<double>(), 0);
  EXPECT_GT(j["tg4_tps"].get<double>(), 0);
  const nlohmann::json& batched = j["batched_decode_tps"];
  ASSERT_TRUE(batched.is_object()) << r.text;
  EXPECT_EQ(batched.size(), 2u) << r.text;
  ASSERT_TRUE(batched.contains("1") && batched.contains("3")) << r.text;
  EXPECT_GT(batched["1"].get<double>(), 0);
  EXPECT_GT(batched["3"].get<double>(), 0);
  EXPECT_EQ(j["batch_context"].get<int>(), 100) << r.text;
  // The thread handoff is reported before and after the run (0s with one thread).
  ASSERT_TRUE(j["thread_handoff_ns"].is_array()) << r.text;
  EXPECT_EQ(j["thread_handoff_ns"].size(), 2u) << r.text;
}

TEST_F(RunE2eTest, EightBitKvCacheGeneratesAndBenchmarks) {
  // tiny with 9 heads: a head width of 32, which 8-bit K/V rows need.
  const std::string model = (*dir_ / "tiny-9heads.gguf").string();
  const CliOutput init =
      RunSurge("model init --arch llama --preset tiny --heads 9 --type q8_0 --seed 3 -o " + model);
  ASSERT_EQ(init.exit_code, 0) << init.text;
  const std::string gen = "run -m " + model + " -p 'Once upon a time' -n 12 --temp 0 --ignore-eos";
  const CliOutput a = RunSurge(gen + " --kv-type q8_0", /*merge_stderr=*/false);
  const CliOutput b = RunSurge(gen + " --kv-type q8_0", /*merge_stderr=*/false);
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_FALSE(a.text.empty());
  EXPECT_EQ(a.text, b.text);  // greedy: the same text every time

  const CliOutput bench = RunSurge("run -m " + model +
                                       " --bench --json --kv-type q8_0 --repetitions 1 "
                                       "--pp-tokens 16 --tg-tokens 4 --batch-sizes 1,4 --no-mixed",
                                   /*merge_stderr=*/false);
  ASSERT_EQ(bench.exit_code, 0) << bench.text;
  const CliOutput half = RunSurge("run -m " + model +
                                      " --bench --json --repetitions 1 --pp-tokens 16 "
                                      "--tg-tokens 4 --batch-sizes 1,4 --no-mixed",
                                  /*merge_stderr=*/false);
  ASSERT_EQ(half.exit_code, 0) << half.text;
  auto kv_bytes = [](const std::string& json) {
    const size_t at = json.find("\"kv_cache_bytes\":");
    return at == std::string::npos ? -1.0 : std::stod(json.substr(at + 17));
  };
  // The same cache in slots holds 34 bytes per 32 values instead of 64.
  EXPECT_DOUBLE_EQ(kv_bytes(bench.text) * 64, kv_bytes(half.text) * 34) << bench.text;
}

TEST_F(RunE2eTest, BadInputExitsNonZeroWithAMessage) {
  const CliOutput missing = RunSurge("run -m " + (*dir_ / "nope.gguf").string() + " -p hi");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.text.find("nope.gguf"), std::string::npos) << missing.text;

  const CliOutput zero = RunSurge("run -m " + Model() + " --bench --batch-sizes 0");
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_NE(zero.text.find("--batch-sizes"), std::string::npos) << zero.text;

  // tiny's context is 512 tokens: 500 + 32 timed decode steps do not fit.
  const CliOutput long_ctx = RunSurge("run -m " + Model() + " --bench --batch-context 500");
  EXPECT_NE(long_ctx.exit_code, 0);
  EXPECT_NE(long_ctx.text.find("512"), std::string::npos) << long_ctx.text;

  // tiny's heads are 48 wide: no 8-bit K/V rows; an unknown type is refused.
  const CliOutput q8 = RunSurge("run -m " + Model() + " -p hi --kv-type q8_0");
  EXPECT_NE(q8.exit_code, 0);
  EXPECT_NE(q8.text.find("multiple of 32"), std::string::npos) << q8.text;
  const CliOutput q4 = RunSurge("run -m " + Model() + " -p hi --kv-type q4_0");
  EXPECT_NE(q4.exit_code, 0);
  EXPECT_NE(q4.text.find("--kv-type"), std::string::npos) << q4.text;
}

}  // namespace
}  // namespace surge::e2e
