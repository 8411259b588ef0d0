#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "server/openai/errors.h"
#include "server/openai/parse.h"

namespace surge::server::openai {
namespace {

enum class Api { kCompletion, kChat, kTokenize, kDetokenize };

ParseLimits TestLimits() {
  ParseLimits l;
  l.max_tokens_limit = 4096;
  l.max_n = 8;
  l.max_stop = 4;
  l.max_messages = 4;
  l.max_prompt_chars = 1000;
  l.max_prompt_tokens = 64;
  return l;
}

absl::Status Parse(Api api, const std::string& body) {
  const ParseLimits limits = TestLimits();
  switch (api) {
    case Api::kCompletion:
      return ParseCompletionRequest(body, limits).status();
    case Api::kChat:
      return ParseChatRequest(body, limits).status();
    case Api::kTokenize:
      return ParseTokenizeRequest(body, limits).status();
    case Api::kDetokenize:
      return ParseDetokenizeRequest(body, limits).status();
  }
  return absl::InternalError("unreachable");
}

// A valid chat body plus `extra` fields.
std::string Chat(const std::string& extra) {
  return R"({"model":"m","messages":[{"role":"user","content":"hi"}])" +
         (extra.empty() ? "" : "," + extra) + "}";
}
std::string ChatWith(const std::string& messages) {
  return R"({"model":"m","messages":)" + messages + "}";
}
std::string Comp(const std::string& extra) {
  return R"({"model":"m","prompt":"hi")" + (extra.empty() ? "" : "," + extra) + "}";
}
std::string Prompt(const std::string& prompt) { return R"({"model":"m","prompt":)" + prompt + "}"; }

struct BadCase {
  Api api;
  std::string body;
  std::optional<std::string> param;  // nullopt: "param": null
  std::string code;
};

std::vector<BadCase> BadCases() {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  const std::string big(1200, 'x');
  const std::string j = "invalid_json";
  const std::string type = "invalid_type";
  const std::string value = "invalid_value";
  const std::string missing = "missing_required_parameter";
  const std::string unsupported = "unsupported_value";
  return {
      // Not one JSON object.
      {Api::kChat, "", std::nullopt, j},
      {Api::kChat, "{", std::nullopt, j},
      {Api::kChat, R"({"model":"m","messages":[{"role":"user","content":"hi"})", std::nullopt, j},
      {Api::kChat, R"({"model":"m",})", std::nullopt, j},
      {Api::kChat, R"({'model':'m'})", std::nullopt, j},
      {Api::kChat, Chat("") + " trailing", std::nullopt, j},
      {Api::kChat, R"({"model":"m", /* c */ "messages":[]})", std::nullopt, j},
      {Api::kChat, "[1,2]", std::nullopt, j},
      {Api::kChat, R"("just a string")", std::nullopt, j},
      {Api::kChat, "null", std::nullopt, j},
      {Api::kCompletion,
       "{\"model\":\"m\",\"prompt\":\"\xff"
       "\xfe\"}",
       std::nullopt, j},
      {Api::kCompletion, "{\"model\":\"m\",\"prompt\":\"caf\xc3\"}", std::nullopt, j},
      {Api::kCompletion, R"({"model":"m","prompt":"\ud800"})", std::nullopt, j},
      {Api::kChat, Chat(R"("temperature":NaN)"), std::nullopt, j},
      {Api::kChat, Chat(R"("temperature":Infinity)"), std::nullopt, j},
      {Api::kChat, Chat(R"("temperature":-1e400)"), std::nullopt, j},
      {Api::kChat, Chat(R"("x":)" + deep), std::nullopt, j},
      // model
      {Api::kChat, R"({"messages":[{"role":"user","content":"hi"}]})", "model", missing},
      {Api::kChat, R"({"model":5,"messages":[]})", "model", type},
      {Api::kCompletion, R"({"model":"","prompt":"x"})", "model", value},
      // messages
      {Api::kChat, R"({"model":"m"})", "messages", missing},
      {Api::kChat, ChatWith(R"("hi")"), "messages", type},
      {Api::kChat, ChatWith("[]"), "messages", value},
      {Api::kChat, ChatWith(R"([{"role":"user","content":"a"},{"role":"user","content":"a"},
          {"role":"user","content":"a"},{"role":"user","content":"a"},
          {"role":"user","content":"a"}])"),
       "messages", value},
      {Api::kChat, ChatWith("[1]"), "messages[0]", type},
      {Api::kChat, ChatWith(R"([{"content":"x"}])"), "messages[0].role", missing},
      {Api::kChat, ChatWith(R"([{"role":"wizard","content":"x"}])"), "messages[0].role", value},
      {Api::kChat, ChatWith(R"([{"role":7,"content":"x"}])"), "messages[0].role", type},
      {Api::kChat, ChatWith(R"([{"role":"user","content":42}])"), "messages[0].content", type},
      {Api::kChat, ChatWith(R"([{"role":"user"}])"), "messages[0].content", missing},
      {Api::kChat, ChatWith(R"([{"role":"user","content":[{"type":"image_url","image_url":{}}]}])"),
       "messages[0].content[0].type", unsupported},
      {Api::kChat, ChatWith(R"([{"role":"user","content":["hi"]}])"), "messages[0].content[0]",
       type},
      {Api::kChat, ChatWith(R"([{"role":"user","content":[{"type":"text"}]}])"),
       "messages[0].content[0].text", missing},
      {Api::kChat, ChatWith(R"([{"role":"user","content":[{"type":"text","text":5}]}])"),
       "messages[0].content[0].text", type},
      {Api::kChat,
       ChatWith(R"([{"role":"system","content":"ok"},{"role":"user","content":")" + big + R"("}])"),
       "messages", value},
      {Api::kChat, ChatWith(R"([{"role":"assistant","content":null,"tool_calls":[{"id":"1"}]}])"),
       "messages[0].tool_calls", unsupported},
      {Api::kChat, ChatWith(R"([{"role":"user","content":"x","name":3}])"), "messages[0].name",
       type},
      // Sampling numbers.
      {Api::kChat, Chat(R"("temperature":"hot")"), "temperature", type},
      {Api::kChat, Chat(R"("temperature":-0.5)"), "temperature", value},
      {Api::kChat, Chat(R"("temperature":2.5)"), "temperature", value},
      {Api::kChat, Chat(R"("top_p":0)"), "top_p", value},
      {Api::kChat, Chat(R"("top_p":1.5)"), "top_p", value},
      {Api::kChat, Chat(R"("top_k":-2)"), "top_k", value},
      {Api::kChat, Chat(R"("top_k":1.5)"), "top_k", value},
      {Api::kChat, Chat(R"("min_p":2)"), "min_p", value},
      {Api::kChat, Chat(R"("n":0)"), "n", value},
      {Api::kChat, Chat(R"("n":1000000)"), "n", value},
      {Api::kChat, Chat(R"("n":1.5)"), "n", value},
      {Api::kChat, Chat(R"("n":"2")"), "n", type},
      {Api::kChat, Chat(R"("n":true)"), "n", type},
      {Api::kChat, Chat(R"("max_tokens":0)"), "max_tokens", value},
      {Api::kChat, Chat(R"("max_tokens":-5)"), "max_tokens", value},
      {Api::kChat, Chat(R"("max_tokens":1e12)"), "max_tokens", value},
      {Api::kChat, Chat(R"("max_tokens":99999999999999999999)"), "max_tokens", value},
      {Api::kChat, Chat(R"("max_completion_tokens":"many")"), "max_completion_tokens", type},
      {Api::kChat, Chat(R"("presence_penalty":3)"), "presence_penalty", value},
      {Api::kChat, Chat(R"("frequency_penalty":-2.5)"), "frequency_penalty", value},
      {Api::kChat, Chat(R"("repetition_penalty":0)"), "repetition_penalty", value},
      {Api::kChat, Chat(R"("repetition_penalty":1e300)"), "repetition_penalty", value},
      {Api::kChat, Chat(R"("seed":"x")"), "seed", type},
      {Api::kChat, Chat(R"("seed":1.5)"), "seed", value},
      {Api::kChat, Chat(R"("seed":18446744073709551615)"), "seed", value},
      {Api::kChat, Chat(R"("priority":1e10)"), "priority", value},
      {Api::kChat, Chat(R"("priority":"high")"), "priority", type},
      // stop
      {Api::kChat, Chat(R"("stop":5)"), "stop", type},
      {Api::kChat, Chat(R"("stop":["a","b","c","d","e"])"), "stop", value},
      {Api::kChat, Chat(R"("stop":[""])"), "stop[0]", value},
      {Api::kChat, Chat(R"("stop":["a",3])"), "stop[1]", type},
      {Api::kChat, Chat(R"("stop":"")"), "stop", value},
      {Api::kChat, Chat(R"("stop":")" + std::string(300, 's') + "\""), "stop", value},
      // Flags and options.
      {Api::kChat, Chat(R"("stream":"yes")"), "stream", type},
      {Api::kChat, Chat(R"("stream_options":{"include_usage":true})"), "stream_options", value},
      {Api::kChat, Chat(R"("stream":true,"stream_options":{"include_usage":"yes"})"),
       "stream_options.include_usage", type},
      {Api::kChat, Chat(R"("stream":true,"stream_options":3)"), "stream_options", type},
      {Api::kChat, Chat(R"("ignore_eos":1)"), "ignore_eos", type},
      {Api::kChat, Chat(R"("user":5)"), "user", type},
      {Api::kChat, Chat(R"("logprobs":3)"), "logprobs", type},
      {Api::kChat, Chat(R"("logprobs":true,"top_logprobs":21)"), "top_logprobs", value},
      {Api::kChat, Chat(R"("top_logprobs":5)"), "top_logprobs", value},
      {Api::kChat, Chat(R"("logit_bias":{"50256":-100})"), "logit_bias", unsupported},
      {Api::kChat, Chat(R"("logit_bias":[])"), "logit_bias", type},
      {Api::kChat, Chat(R"("tools":[{"type":"function"}])"), "tools", unsupported},
      {Api::kChat, Chat(R"("response_format":{"type":"json_object"})"), "response_format.type",
       unsupported},
      // Completions.
      {Api::kCompletion, Comp(R"("logprobs":6)"), "logprobs", value},
      {Api::kCompletion, Comp(R"("logprobs":true)"), "logprobs", type},
      {Api::kCompletion, Comp(R"("echo":true)"), "echo", unsupported},
      {Api::kCompletion, Comp(R"("suffix":"x")"), "suffix", unsupported},
      {Api::kCompletion, Comp(R"("best_of":3)"), "best_of", unsupported},
      {Api::kCompletion, R"({"model":"m"})", "prompt", missing},
      {Api::kCompletion, Prompt("5"), "prompt", type},
      {Api::kCompletion, Prompt("[]"), "prompt", value},
      {Api::kCompletion, Prompt(R"(["a","b"])"), "prompt", unsupported},
      {Api::kCompletion, Prompt("[[1,2],[3]]"), "prompt", unsupported},
      {Api::kCompletion, Prompt("[1,-2]"), "prompt[1]", value},
      {Api::kCompletion, Prompt("[1,2.5]"), "prompt[1]", value},
      {Api::kCompletion, Prompt("[1,4294967296]"), "prompt[1]", value},
      {Api::kCompletion, Prompt("[[]]"), "prompt[0]", value},
      {Api::kCompletion, Prompt(R"([1,"a"])"), "prompt[1]", type},
      {Api::kCompletion, Prompt(R"({"text":"x"})"), "prompt", type},
      {Api::kCompletion, Prompt("\"" + big + "\""), "prompt", value},
      // /tokenize and /detokenize.
      {Api::kTokenize, "{}", "content", missing},
      {Api::kTokenize, R"({"content":5})", "content", type},
      {Api::kTokenize, R"({"prompt":["a"]})", "prompt", type},
      {Api::kTokenize, R"({"messages":[]})", "messages", value},
      {Api::kTokenize, R"({"content":"x","add_special":"yes"})", "add_special", type},
      {Api::kDetokenize, "{}", "tokens", missing},
      {Api::kDetokenize, R"({"tokens":[-1]})", "tokens[0]", value},
      {Api::kDetokenize, R"({"tokens":"1 2"})", "tokens", type},
  };
}

TEST(ParseTest, BadInputGetsA400NamingTheField) {
  std::vector<BadCase> cases = BadCases();
  // 65 token ids: one over the limit.
  std::string ids = "[0";
  for (int i = 0; i < 64; ++i) ids += ",1";
  cases.push_back({Api::kCompletion, Prompt(ids + "]"), "prompt", "invalid_value"});
  ASSERT_GE(cases.size(), 40u);
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 200));
    const absl::Status status = Parse(c.api, c.body);
    ASSERT_FALSE(status.ok());
    const ApiError e = ApiErrorFromStatus(status);
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.param, c.param) << e.message;
    EXPECT_EQ(e.code, c.code) << e.message;
    EXPECT_FALSE(e.message.empty());
    if (c.code == "invalid_json") {
      EXPECT_TRUE(e.message.starts_with("invalid JSON: ")) << e.message;
    }
  }
}

TEST(ParseTest, MessagesNameTheBoundAndTheValue) {
  ApiError e = ApiErrorFromStatus(Parse(Api::kChat, Chat(R"("n":1000000)")));
  EXPECT_EQ(e.message, "'n' must be an integer between 1 and 8; got 1000000");
  e = ApiErrorFromStatus(Parse(Api::kChat, Chat(R"("temperature":"hot")")));
  EXPECT_EQ(e.message, "'temperature' must be a number, not a string");
  e = ApiErrorFromStatus(Parse(Api::kChat, Chat(R"("top_p":0)")));
  EXPECT_EQ(e.message, "'top_p' must be greater than 0 and at most 1; got 0");
  e = ApiErrorFromStatus(Parse(Api::kCompletion, "{\"model\":\"m\",\"prompt\":\"\xff\"}"));
  EXPECT_NE(e.message.find("UTF-8"), std::string::npos) << e.message;
  for (char c : e.message) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << e.message;
  e = ApiErrorFromStatus(Parse(Api::kChat, "[]"));
  EXPECT_EQ(e.message, "invalid JSON: the body must be a JSON object, not an array");
}

}  // namespace
}  // namespace surge::server::openai
