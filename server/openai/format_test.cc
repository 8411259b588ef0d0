#include "server/openai/format.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace surge::server::openai {
namespace {

using nlohmann::json;

json Parsed(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << text;
  return j;
}

const ResponseMeta kMeta{"cmpl-42", 1700000000, "tiny"};

TEST(FormatTest, CompletionResponse) {
  const std::vector<Choice> choices = {
      {.index = 0, .text = "Hello", .finish = FinishReason::kLength},
      {.index = 1, .text = "", .finish = FinishReason::kStop},
  };
  const std::string out = FormatCompletion(kMeta, choices, Usage{5, 7, 2});
  EXPECT_TRUE(out.starts_with(R"({"id":"cmpl-42","object":"text_completion","created":)")) << out;
  const json j = Parsed(out);
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "tiny");
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["text"], "Hello");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][1]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"], json::parse(R"({"prompt_tokens":5,"completion_tokens":7,
      "total_tokens":12,"prompt_tokens_details":{"cached_tokens":2}})"));
}

TEST(FormatTest, ChatResponseWithLogprobs) {
  Choice c{.index = 0, .text = "Hi", .finish = FinishReason::kStop};
  c.logprobs = std::vector<TokenLogprob>{
      {"Hi", -0.1f, {{"Hi", -0.1f}, {"Hey", -std::numeric_limits<float>::infinity()}}},
      {"\xE2\x96", std::numeric_limits<float>::quiet_NaN(), {}},  // half a character
  };
  const json j = Parsed(FormatChatCompletion(kMeta, std::span(&c, 1), Usage{3, 2, 0}));
  EXPECT_EQ(j["object"], "chat.completion");
  const json& choice = j["choices"][0];
  EXPECT_EQ(choice["message"], json::parse(R"({"role":"assistant","content":"Hi"})"));
  EXPECT_EQ(choice["finish_reason"], "stop");
  const json& content = choice["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "Hi");
  EXPECT_EQ(content[0]["logprob"].get<double>(), -0.1);  // shortest form, not -0.100000001
  EXPECT_EQ(content[0]["bytes"], json::parse("[72,105]"));
  ASSERT_EQ(content[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(content[0]["top_logprobs"][1]["token"], "Hey");
  EXPECT_EQ(content[0]["top_logprobs"][1]["logprob"].get<double>(), -9999.0);
  EXPECT_EQ(content[1]["token"], "\xEF\xBF\xBD");  // U+FFFD for the broken bytes
  EXPECT_EQ(content[1]["bytes"], json::parse("[226,150]"));
  EXPECT_EQ(content[1]["logprob"].get<double>(), -9999.0);
  EXPECT_TRUE(choice["logprobs"]["refusal"].is_null());
  EXPECT_EQ(j["usage"]["total_tokens"], 5);
}

TEST(FormatTest, CompletionLogprobsAreParallelArrays) {
  Choice c{.index = 0, .text = "ab c", .text_offset = 10};
  c.logprobs = std::vector<TokenLogprob>{{"ab", -1.5f, {{"ab", -1.5f}, {"a", -2.0f}}},
                                         {" c", -0.25f, {{" c", -0.25f}}}};
  const json j = Parsed(FormatCompletionChunk(kMeta, c, /*include_usage=*/false));
  const json& lp = j["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json::parse(R"(["ab"," c"])"));
  EXPECT_EQ(lp["token_logprobs"], json::parse("[-1.5,-0.25]"));
  EXPECT_EQ(lp["top_logprobs"], json::parse(R"([{"ab":-1.5,"a":-2.0},{" c":-0.25}])"));
  EXPECT_EQ(lp["text_offset"], json::parse("[10,12]"));
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(j.contains("usage"));
}

TEST(FormatTest, ChatStreamChunks) {
  const ResponseMeta meta{"chatcmpl-1", 1, "tiny"};
  const json role = Parsed(FormatChatChunk(meta, Choice{.index = 0}, true, true));
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["choices"][0]["delta"], json::parse(R"({"role":"assistant","content":""})"));
  EXPECT_TRUE(role["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(role.contains("usage") && role["usage"].is_null());

  const json text = Parsed(FormatChatChunk(meta, Choice{.index = 2, .text = "Hel"}, false, false));
  EXPECT_EQ(text["choices"][0]["index"], 2);
  EXPECT_EQ(text["choices"][0]["delta"], json::parse(R"({"content":"Hel"})"));
  EXPECT_FALSE(text.contains("usage"));

  const json last =
      Parsed(FormatChatChunk(meta, Choice{.finish = FinishReason::kLength}, false, true));
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");

  const json usage = Parsed(FormatUsageChunk(Endpoint::kChat, meta, Usage{4, 6, 1}));
  EXPECT_EQ(usage["object"], "chat.completion.chunk");
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["total_tokens"], 10);
  EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
  EXPECT_EQ(Parsed(FormatUsageChunk(Endpoint::kCompletion, meta, Usage{}))["object"],
            "text_completion");
}

TEST(FormatTest, FinishReasonsForEngineOutcomes) {
  const std::pair<FinishReason, const char*> cases[] = {
      {FinishReason::kStop, "stop"},       {FinishReason::kLength, "length"},
      {FinishReason::kCancelled, "abort"}, {FinishReason::kExpired, "abort"},
      {FinishReason::kError, "error"},
  };
  for (const auto& [reason, text] : cases) {
    const json j = Parsed(FormatCompletionChunk(kMeta, Choice{.finish = reason}, false));
    EXPECT_EQ(j["choices"][0]["finish_reason"], text);
  }
}

TEST(FormatTest, SseFraming) {
  EXPECT_EQ(SseEvent(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(SseDone(), "data: [DONE]\n\n");
  // Newlines in text are escaped, so one chunk is always one SSE event.
  const std::string chunk = SseEvent(FormatChatChunk(kMeta, Choice{.text = "a\nb"}, false, false));
  EXPECT_EQ(chunk.find('\n'), chunk.size() - 2);
  const std::string error = SseErrorEvent(
      ApiError{500, "server_error", "generation failed", std::nullopt, "internal_error", {}});
  ASSERT_TRUE(error.starts_with("data: ") && error.ends_with("\n\n"));
  const json j = Parsed(error.substr(6, error.size() - 8));
  EXPECT_EQ(j["error"]["message"], "generation failed");
  EXPECT_EQ(j["error"]["code"], "internal_error");
}

TEST(FormatTest, ModelsAndTokenizer) {
  const std::vector<ModelCard> models = {{"tiny", 7, "surge", 2048}, {"other", 8, "me", 0}};
  const json list = Parsed(FormatModelList(models));
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 2u);
  EXPECT_EQ(list["data"][0], json::parse(R"({"id":"tiny","object":"model","created":7,
      "owned_by":"surge","max_model_len":2048})"));
  EXPECT_FALSE(list["data"][1].contains("max_model_len"));
  EXPECT_EQ(Parsed(FormatModel(models[1]))["id"], "other");
  EXPECT_EQ(Parsed(FormatModelList({}))["data"], json::array());

  const std::vector<int32_t> ids = {1, 15043, 2};
  EXPECT_EQ(Parsed(FormatTokenizeResponse(ids, 4096)),
            json::parse(R"({"tokens":[1,15043,2],"count":3,"max_model_len":4096})"));
  EXPECT_EQ(Parsed(FormatTokenizeResponse({}, 0)), json::parse(R"({"tokens":[],"count":0})"));
  EXPECT_EQ(Parsed(FormatDetokenizeResponse("caf\xC3\xA9")), json::parse(R"({"content":"café"})"));
}

TEST(FormatTest, InvalidUtf8TextStaysValidJson) {
  const Choice c{.text = "ok \xFF\xC3"};
  const json j = Parsed(FormatChatCompletion(kMeta, std::span(&c, 1), Usage{}));
  EXPECT_EQ(j["choices"][0]["message"]["content"], "ok \xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace surge::server::openai
