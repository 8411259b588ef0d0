// `surge train` as a user runs it: train a micro model on a text file, write
// it quantized, generate from it with `surge run`, resume from the
// checkpoint, and get a clear error for a corpus that does not exist.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/e2e/cli.h"

namespace surge {
namespace {

using e2e::CliOutput;
using e2e::RunSurge;

class TrainE2eTest : public testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("SURGE_BINARY") == nullptr) GTEST_SKIP() << "SURGE_BINARY not set";
    dir_ = std::filesystem::temp_directory_path() / ("surge_train_e2e_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    // ~40 KB of simple sentences.
    const char* words[] = {"the", "king",  "went", "up",       "to",    "city",  "and",  "people",
                           "saw", "river", "a",    "shepherd", "loved", "green", "field"};
    std::ofstream corpus(path("corpus.txt"));
    uint64_t x = 7;
    for (int i = 0; i < 8000; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      corpus << words[(x >> 33) % 15] << ((i % 12 == 11) ? ".\n" : " ");
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

TEST_F(TrainE2eTest, TrainsQuantizesGeneratesAndResumes) {
  const std::string common = "--corpus " + path("corpus.txt") + " --preset micro --steps 30";
  CliOutput train = RunSurge("train " + common + " --type q8_0 -o " + path("m.gguf"));
  ASSERT_EQ(train.exit_code, 0) << train.text;
  EXPECT_NE(train.text.find("trained 30 steps (from 0)"), std::string::npos) << train.text;
  EXPECT_NE(train.text.find("step 30/30 (100.0%)"), std::string::npos) << train.text;
  EXPECT_FALSE(std::filesystem::exists(path("m.gguf.f32.tmp")));

  CliOutput info = RunSurge("model info " + path("m.gguf"));
  ASSERT_EQ(info.exit_code, 0) << info.text;
  EXPECT_NE(info.text.find("q8_0"), std::string::npos) << info.text;

  CliOutput run = RunSurge("run -m " + path("m.gguf") + " -p \"the king\" -n 8 --seed 1");
  ASSERT_EQ(run.exit_code, 0) << run.text;

  // The checkpoint is at the last step; resuming it to the same end only
  // re-exports, and says where it started.
  CliOutput resume = RunSurge("train " + common + " --resume " +
                              path("m.gguf.ckpt/checkpoint.gguf") + " -o " + path("again.gguf"));
  ASSERT_EQ(resume.exit_code, 0) << resume.text;
  EXPECT_NE(resume.text.find("trained 30 steps (from 30)"), std::string::npos) << resume.text;
}

TEST_F(TrainE2eTest, BadRequestsFailWithAMessage) {
  CliOutput missing = RunSurge("train --corpus " + path("nope.txt") + " -o " + path("x.gguf"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.text.find("cannot read"), std::string::npos) << missing.text;
  CliOutput preset =
      RunSurge("train --corpus " + path("corpus.txt") + " --preset huge -o " + path("x.gguf"));
  EXPECT_EQ(preset.exit_code, 1);
  EXPECT_NE(preset.text.find("unknown preset"), std::string::npos) << preset.text;
}

}  // namespace
}  // namespace surge
