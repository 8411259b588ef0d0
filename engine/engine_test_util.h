// Shared by the Engine tests: a tiny random model made once per test binary,
// an engine on it, and a collector for a request's whole output.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/model/model.h"
#include "engine/model/model_init.h"
#include "gtest/gtest.h"

namespace surge::engine {

struct Output {
  std::vector<std::vector<int32_t>> tokens;  // per sequence
  std::vector<std::string> text;
  std::vector<FinishReason> finish;
  RequestSummary summary;
  int terminal_events = 0;
};

inline Output Collect(const RequestHandle& h, int n) {
  Output out;
  out.tokens.resize(n);
  out.text.resize(n);
  out.finish.resize(n, FinishReason::kError);
  for (;;) {
    std::optional<TokenStream::Item> item = h.stream->Next(absl::Seconds(120));
    EXPECT_TRUE(item.has_value()) << "stream stalled";
    if (!item) return out;
    if (item->summary) {
      out.summary = *item->summary;
      return out;
    }
    const TokenEvent& ev = *item->event;
    out.tokens[ev.index].insert(out.tokens[ev.index].end(), ev.tokens.begin(), ev.tokens.end());
    out.text[ev.index] += ev.text;
    if (ev.finish) {
      out.finish[ev.index] = *ev.finish;
      ++out.terminal_events;
    }
  }
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string((std::filesystem::temp_directory_path() /
                             ("surge_engine_test_" + std::to_string(getpid()) + ".gguf"))
                                .string());
    model::InitOptions o;
    o.arch = "llama";
    o.preset = "tiny";
    o.type = kernels::DType::kQ8_0;
    o.seed = 3;
    ASSERT_TRUE(model::WriteRandomModel(o, *path_).ok());
    auto m = model::Model::Load(*path_);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = m->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    std::filesystem::remove(*path_);
    delete path_;
  }

  std::unique_ptr<Engine> MakeEngine(EngineConfig c = {}) {
    c.num_threads = 2;
    auto e = Engine::Create(*model_, c);
    EXPECT_TRUE(e.ok()) << e.status();
    (*e)->Start();
    return *std::move(e);
  }

  static GenerationRequest Req(int prompt_len, int max_tokens, uint64_t seed, float temp = 0.8f) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    GenerationRequest r;
    for (int i = 0; i < prompt_len; ++i) r.prompt.push_back(static_cast<int32_t>(rng() % 32000));
    r.max_tokens = max_tokens;
    r.sampling.temperature = temp;
    r.sampling.seed = seed;
    r.ignore_eos = true;
    return r;
  }

  static inline std::string* path_ = nullptr;
  static inline model::Model* model_ = nullptr;
};

}  // namespace surge::engine
