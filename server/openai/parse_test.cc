#include "server/openai/parse.h"

#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"

namespace surge::server::openai {
namespace {

ChatRequest ParseChat(const std::string& body) {
  absl::StatusOr<ChatRequest> r = ParseChatRequest(body, ParseLimits{});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : ChatRequest{};
}

CompletionRequest ParseCompletion(const std::string& body) {
  absl::StatusOr<CompletionRequest> r = ParseCompletionRequest(body, ParseLimits{});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : CompletionRequest{};
}

TEST(ParseTest, MinimalChatGetsDefaults) {
  const ChatRequest r = ParseChat(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, Role::kUser);
  EXPECT_EQ(r.messages[0].content, "hi");
  const SamplingOptions& s = r.sampling;
  EXPECT_FALSE(s.max_tokens.has_value());
  EXPECT_EQ(s.temperature, 1.0f);
  EXPECT_EQ(s.top_p, 1.0f);
  EXPECT_EQ(s.top_k, 0);
  EXPECT_EQ(s.n, 1);
  EXPECT_TRUE(s.stop.empty());
  EXPECT_FALSE(s.seed.has_value());
  EXPECT_FALSE(s.logprobs);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_EQ(r.priority, 0);
  EXPECT_TRUE(r.add_generation_prompt);
}

TEST(ParseTest, EveryChatFieldLandsTyped) {
  const ChatRequest r = ParseChat(R"({
    "model": "tiny", "messages": [
      {"role": "developer", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
       "name": "ann"},
      {"role": "assistant", "content": null},
      {"role": "tool", "content": "42", "tool_call_id": "x"},
      {"role": "system", "content": ""}],
    "max_tokens": 10, "max_completion_tokens": 20, "temperature": 0, "top_p": 0.5,
    "top_k": -1, "min_p": 0.05, "n": 3, "stop": ["\n", "END"], "seed": -7, "stream": true,
    "stream_options": {"include_usage": true}, "presence_penalty": -2, "frequency_penalty": 2,
    "repetition_penalty": 1.1, "logprobs": true, "top_logprobs": 20, "user": "u1",
    "priority": -5, "ignore_eos": true, "add_generation_prompt": false,
    "logit_bias": {}, "tools": [], "response_format": {"type": "text"},
    "some_future_field": {"nested": [1, 2, {"x": null}]}})");
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[0].role, Role::kDeveloper);
  EXPECT_EQ(r.messages[1].content, "a\nb");
  EXPECT_EQ(r.messages[1].name, "ann");
  EXPECT_EQ(r.messages[2].role, Role::kAssistant);
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(r.messages[3].role, Role::kTool);
  const SamplingOptions& s = r.sampling;
  EXPECT_EQ(s.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_EQ(s.temperature, 0.0f);
  EXPECT_EQ(s.top_p, 0.5f);
  EXPECT_EQ(s.top_k, 0);
  EXPECT_EQ(s.min_p, 0.05f);
  EXPECT_EQ(s.n, 3);
  EXPECT_EQ(s.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_EQ(s.seed, -7);
  EXPECT_EQ(s.presence_penalty, -2.0f);
  EXPECT_EQ(s.frequency_penalty, 2.0f);
  EXPECT_EQ(s.repetition_penalty, 1.1f);
  EXPECT_TRUE(s.logprobs);
  EXPECT_EQ(s.top_logprobs, 20);
  EXPECT_TRUE(s.ignore_eos);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.user, "u1");
  EXPECT_EQ(r.priority, -5);
  EXPECT_FALSE(r.add_generation_prompt);
}

TEST(ParseTest, NullMeansNotGiven) {
  const ChatRequest r = ParseChat(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
    "temperature":null,"top_p":null,"n":null,"stop":null,"seed":null,"stream":null,
    "stream_options":null,"logit_bias":null,"tools":null,"max_tokens":null,"user":null,
    "response_format":null,"logprobs":null,"top_logprobs":null})");
  EXPECT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_EQ(r.sampling.n, 1);
  EXPECT_FALSE(r.sampling.seed.has_value());
  EXPECT_FALSE(r.sampling.max_tokens.has_value());
}

TEST(ParseTest, WholeFloatsAreIntegersAndTopKStays) {
  const ChatRequest r = ParseChat(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":2.0,"max_tokens":1e3,
          "top_k":40,"seed":9223372036854775807,"stop":"###"})");
  EXPECT_EQ(r.sampling.n, 2);
  EXPECT_EQ(r.sampling.max_tokens, 1000);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_EQ(r.sampling.seed, INT64_MAX);
  EXPECT_EQ(r.sampling.stop, (std::vector<std::string>{"###"}));
}

TEST(ParseTest, UnicodeContentSurvives) {
  const ChatRequest r = ParseChat(
      R"({"model":"m","messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00 日本"}]})");
  EXPECT_EQ(r.messages[0].content, "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC");
}

TEST(ParseTest, CompletionPromptForms) {
  CompletionRequest r = ParseCompletion(R"({"model":"m","prompt":"Once upon"})");
  EXPECT_EQ(std::get<std::string>(r.prompt), "Once upon");
  r = ParseCompletion(R"({"model":"m","prompt":["only one"]})");
  EXPECT_EQ(std::get<std::string>(r.prompt), "only one");
  r = ParseCompletion(R"({"model":"m","prompt":[1, 2, 2147483647]})");
  EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompt), (std::vector<int32_t>{1, 2, 2147483647}));
  r = ParseCompletion(R"({"model":"m","prompt":[[5, 6]]})");
  EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompt), (std::vector<int32_t>{5, 6}));
  r = ParseCompletion(R"({"model":"m","prompt":""})");
  EXPECT_EQ(std::get<std::string>(r.prompt), "");
}

TEST(ParseTest, CompletionOptions) {
  const CompletionRequest r = ParseCompletion(
      R"({"model":"m","prompt":"x","logprobs":3,"n":2,"best_of":2,"echo":false,"suffix":"",
          "max_tokens":16,"stream":true,"stream_options":{"include_usage":false}})");
  EXPECT_TRUE(r.sampling.logprobs);
  EXPECT_EQ(r.sampling.top_logprobs, 3);
  EXPECT_EQ(r.sampling.n, 2);
  EXPECT_EQ(r.sampling.max_tokens, 16);
  EXPECT_TRUE(r.stream);
  EXPECT_FALSE(r.include_usage);
  const CompletionRequest zero = ParseCompletion(R"({"model":"m","prompt":"x","logprobs":0})");
  EXPECT_TRUE(zero.sampling.logprobs);
  EXPECT_EQ(zero.sampling.top_logprobs, 0);
}

TEST(ParseTest, LimitsComeFromTheServer) {
  ParseLimits limits;
  limits.max_n = 2;
  limits.max_stop = 8;
  const std::string body =
      R"({"model":"m","prompt":"x","n":2,"stop":["1","2","3","4","5","6","7","8"]})";
  EXPECT_TRUE(ParseCompletionRequest(body, limits).ok());
  limits.max_stop = 7;
  EXPECT_FALSE(ParseCompletionRequest(body, limits).ok());
  limits.max_stop = 8;
  limits.max_n = 1;
  EXPECT_FALSE(ParseCompletionRequest(body, limits).ok());
}

TEST(ParseTest, Tokenize) {
  absl::StatusOr<TokenizeRequest> r =
      ParseTokenizeRequest(R"({"content":"hello","add_special":false})", ParseLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "hello");
  EXPECT_FALSE(r->add_special);
  EXPECT_TRUE(r->model.empty());

  r = ParseTokenizeRequest(R"({"model":"m","prompt":"hi"})", ParseLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "hi");
  EXPECT_TRUE(r->add_special);
  EXPECT_EQ(r->model, "m");

  r = ParseTokenizeRequest(R"({"messages":[{"role":"user","content":"x"}],
                               "add_generation_prompt":false})",
                           ParseLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->text.has_value());
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_FALSE(r->add_special);
  EXPECT_FALSE(r->add_generation_prompt);

  r = ParseTokenizeRequest(R"({"messages":[{"role":"user","content":"x"}],
                               "add_special_tokens":true})",
                           ParseLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->add_special);
}

TEST(ParseTest, Detokenize) {
  absl::StatusOr<DetokenizeRequest> r =
      ParseDetokenizeRequest(R"({"tokens":[1,2,3],"model":"m"})", ParseLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r->model, "m");
  r = ParseDetokenizeRequest(R"({"tokens":[]})", ParseLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->tokens.empty());
}

}  // namespace
}  // namespace surge::server::openai
