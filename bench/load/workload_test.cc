// Workload: reproducible synthetic prompts, shared prefixes, output lengths,
// datasets and the request bodies.
#include "bench/load/workload.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "bench/load/text.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace surge::bench {
namespace {

using Json = nlohmann::json;

BenchConfig Synthetic() {
  BenchConfig c;
  c.url = "http://127.0.0.1:1";
  c.requests = 1;
  c.seed = 11;
  c.prompt_tokens = {20, 40};
  c.max_tokens = {8, 16};
  return c;
}

size_t Words(const std::string& s) {
  size_t n = 0;
  for (std::string_view w : SplitView(s, ' ')) n += w.empty() ? 0 : 1;
  return n;
}

TEST(WorkloadTest, SyntheticPromptsAreReproducibleAndVaried) {
  const Workload w = *Workload::Create(Synthetic());
  const Workload again = *Workload::Create(Synthetic());
  std::set<std::string> prompts;
  std::set<int64_t> lengths;
  for (int i = 0; i < 50; ++i) {
    const RequestSpec a = w.Request(1, i);
    ASSERT_EQ(a.messages.size(), 1u);
    EXPECT_EQ(a.messages[0].role, "user");
    EXPECT_EQ(a.messages[0].content, again.Request(1, i).messages[0].content);
    EXPECT_EQ(a.max_tokens, again.Request(1, i).max_tokens);
    EXPECT_GE(a.max_tokens, 8);
    EXPECT_LE(a.max_tokens, 16);
    const size_t words = Words(a.messages[0].content);
    EXPECT_GE(words, 20u);
    EXPECT_LE(words, 40u);
    prompts.insert(a.messages[0].content);
    lengths.insert(a.max_tokens);
    EXPECT_NE(a.messages[0].content, w.Request(2, i).messages[0].content);  // other level
  }
  EXPECT_EQ(prompts.size(), 50u);
  EXPECT_GT(lengths.size(), 4u);
  BenchConfig other = Synthetic();
  other.seed = 12;
  EXPECT_NE(Workload::Create(other)->Request(1, 0).messages[0].content,
            w.Request(1, 0).messages[0].content);
}

TEST(WorkloadTest, SharedPrefixesChosenByIndexAndSameInEveryLevel) {
  BenchConfig c = Synthetic();
  c.shared_prefix_tokens = 64;
  c.num_prefixes = 3;
  const Workload w = *Workload::Create(c);
  ASSERT_EQ(w.prefixes().size(), 3u);
  EXPECT_EQ(Words(w.prefixes()[0]), 64u);
  EXPECT_NE(w.prefixes()[0], w.prefixes()[1]);
  for (int i = 0; i < 9; ++i) {
    const RequestSpec a = w.Request(1, i);
    ASSERT_EQ(a.messages.size(), 2u);
    EXPECT_EQ(a.messages[0].role, "system");
    EXPECT_EQ(a.messages[0].content, w.prefixes()[static_cast<size_t>(i % 3)]);
    EXPECT_EQ(a.messages[0].content, w.Request(5, i).messages[0].content);
  }
}

TEST(WorkloadTest, CompletionsAndChatBodies) {
  BenchConfig c = Synthetic();
  c.shared_prefix_tokens = 4;
  const RequestSpec spec = Workload::Create(c)->Request(1, 0);
  const Json completion = Json::parse(BuildRequestBody(
      spec, {.endpoint = Endpoint::kCompletions, .model = "m", .ignore_eos = true}));
  EXPECT_EQ(completion["model"], "m");
  EXPECT_EQ(completion["prompt"], spec.messages[0].content + "\n\n" + spec.messages[1].content);
  EXPECT_EQ(completion["max_tokens"], spec.max_tokens);
  EXPECT_EQ(completion["temperature"], 0);
  EXPECT_EQ(completion["stream"], true);
  EXPECT_EQ(completion["stream_options"]["include_usage"], true);
  EXPECT_EQ(completion["ignore_eos"], true);
  const Json chat = Json::parse(
      BuildRequestBody(spec, {.endpoint = Endpoint::kChat, .stream = false, .temperature = 0.5}));
  EXPECT_FALSE(chat.contains("model"));
  EXPECT_FALSE(chat.contains("prompt"));
  EXPECT_FALSE(chat.contains("stream_options"));
  EXPECT_FALSE(chat.contains("ignore_eos"));
  EXPECT_EQ(chat["messages"][0]["role"], "system");
  EXPECT_EQ(chat["messages"][1]["content"], spec.messages[1].content);
  EXPECT_EQ(chat["temperature"], 0.5);
}

TEST(WorkloadTest, DatasetParsing) {
  auto d = ParseDataset(
      "{\"prompt\": \"hello\"}\n\n"
      "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, "
      "{\"role\": \"user\", \"content\": \"u\"}], \"extra\": 1}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0][0].content, "hello");
  EXPECT_EQ((*d)[1][1].role, "user");
  const struct {
    const char* text;
    const char* message;
  } bad[] = {
      {"{\"prompt\": \"a\"}\n{oops\n", "line 2: invalid JSON"},
      {"[1]\n", "line 1: not a JSON object"},
      {"{\"text\": \"a\"}\n", "needs \"prompt\" or \"messages\""},
      {"{\"prompt\": 3}\n", "not a string"},
      {"{\"messages\": []}\n", "non-empty array"},
      {"{\"messages\": [{\"role\": \"user\"}]}\n", "role\" and \"content"},
      {"\n\n", "no entries"},
  };
  for (const auto& b : bad) {
    auto r = ParseDataset(b.text);
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_NE(r.status().message().find(b.message), std::string::npos) << r.status();
  }
}

TEST(WorkloadTest, DatasetEntriesAllUsedInSeededOrder) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "surge_loadgen_dataset.jsonl").string();
  {
    std::ofstream out(path);
    for (int i = 0; i < 10; ++i) out << "{\"prompt\": \"entry " << i << "\"}\n";
  }
  BenchConfig c = Synthetic();
  c.dataset_path = path;
  const Workload w = *Workload::Create(c);
  EXPECT_EQ(w.num_dataset_entries(), 10u);
  std::set<std::string> seen;
  for (int i = 0; i < 10; ++i) seen.insert(w.Request(3, i).messages[0].content);
  EXPECT_EQ(seen.size(), 10u);  // one pass covers every entry once
  EXPECT_EQ(w.Request(3, 4).messages[0].content, w.Request(3, 14).messages[0].content);
  c.dataset_path = path + ".missing";
  EXPECT_FALSE(Workload::Create(c).ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace surge::bench
