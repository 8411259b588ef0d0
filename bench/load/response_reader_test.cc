// ResponseReader: SSE streams of the completions and chat APIs (split at any
// byte, with usage or without, ending badly), whole responses and errors.
#include "bench/load/response_reader.h"

#include <string>

#include "gtest/gtest.h"

namespace surge::bench {
namespace {

std::string Event(const std::string& json) { return "data: " + json + "\n\n"; }

std::string ChatChunk(const std::string& content) {
  return Event(R"({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")" +
               content + R"("},"finish_reason":null}],"usage":null})");
}

const char kRoleChunk[] =
    R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})";
const char kFinishChunk[] = R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})";
const char kUsageChunk[] =
    R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16,)"
    R"("prompt_tokens_details":{"cached_tokens":8}}})";

RequestRecord Finish(ResponseReader& reader, double at_s) {
  RequestRecord r;
  reader.Complete(at_s, &r);
  return r;
}

TEST(ResponseReaderTest, ChatStreamSplitAtEveryByte) {
  ResponseReader reader(/*streaming=*/true);
  reader.OnStatus(200);
  // Times: the role chunk at 0.05 s must not count as the first token.
  const std::pair<std::string, double> pieces[] = {
      {Event(kRoleChunk), 0.05},  {ChatChunk("Once"), 0.10},  {ChatChunk(" upon"), 0.13},
      {ChatChunk(" a"), 0.17},    {ChatChunk(" time"), 0.22}, {Event(kFinishChunk), 0.23},
      {Event(kUsageChunk), 0.24}, {"data: [DONE]\n\n", 0.25}};
  for (const auto& [bytes, at] : pieces) {
    for (char c : bytes) reader.OnBody(std::string_view(&c, 1), at);
  }
  const RequestRecord r = Finish(reader, 0.26);
  ASSERT_TRUE(r.ok()) << r.error_message;
  EXPECT_EQ(r.http_status, 200);
  ASSERT_TRUE(r.ttft_s.has_value());
  EXPECT_DOUBLE_EQ(*r.ttft_s, 0.10);
  ASSERT_EQ(r.itl_s.size(), 3u);
  EXPECT_NEAR(r.itl_s[0], 0.03, 1e-12);
  EXPECT_NEAR(r.itl_s[1], 0.04, 1e-12);
  EXPECT_NEAR(r.itl_s[2], 0.05, 1e-12);
  EXPECT_DOUBLE_EQ(r.e2e_s, 0.26);
  EXPECT_TRUE(r.usage_reported);
  EXPECT_EQ(r.prompt_tokens, 12);
  EXPECT_EQ(r.output_tokens, 4);
  EXPECT_EQ(r.cached_tokens.value_or(-1), 8);
}

TEST(ResponseReaderTest, WithoutUsageCountsContentChunks) {
  ResponseReader reader(true);
  reader.OnStatus(200);
  std::string body = ": keep-alive comment\r\n\r\n";
  for (const char* t : {"a", "b", "", "c"}) {
    body += "data: {\"choices\":[{\"index\":0,\"text\":\"" + std::string(t) +
            "\",\"finish_reason\":null}]}\r\n\r\n";
  }
  body += "data: [DONE]\r\n\r\n";
  reader.OnBody(body, 0.5);  // all at once: the gaps are zero
  const RequestRecord r = Finish(reader, 0.5);
  ASSERT_TRUE(r.ok()) << r.error_message;
  EXPECT_FALSE(r.usage_reported);
  EXPECT_EQ(r.output_tokens, 3);  // the empty text is not a token
  EXPECT_EQ(r.itl_s, (std::vector<double>{0, 0}));
  EXPECT_FALSE(r.cached_tokens.has_value());
}

TEST(ResponseReaderTest, StreamWithoutDoneIsAProtocolError) {
  ResponseReader reader(true);
  reader.OnStatus(200);
  reader.OnBody(ChatChunk("x"), 0.1);
  const RequestRecord r = Finish(reader, 0.2);
  EXPECT_EQ(r.error, ErrorKind::kProtocol);
  EXPECT_NE(r.error_message.find("[DONE]"), std::string::npos);
}

TEST(ResponseReaderTest, ErrorEventIsAStreamError) {
  ResponseReader reader(true);
  reader.OnStatus(200);
  reader.OnBody(ChatChunk("x"), 0.1);
  reader.OnBody(Event(R"({"error":{"message":"engine stopped","type":"server_error"}})"), 0.2);
  reader.OnBody("data: [DONE]\n\n", 0.2);
  const RequestRecord r = Finish(reader, 0.3);
  EXPECT_EQ(r.error, ErrorKind::kStreamError);
  EXPECT_NE(r.error_message.find("engine stopped"), std::string::npos);
}

TEST(ResponseReaderTest, MalformedChunkIsAProtocolError) {
  ResponseReader reader(true);
  reader.OnStatus(200);
  reader.OnBody("data: {not json\n\ndata: [DONE]\n\n", 0.1);
  EXPECT_EQ(Finish(reader, 0.1).error, ErrorKind::kProtocol);
}

TEST(ResponseReaderTest, HttpErrorCarriesTheServersMessage) {
  ResponseReader reader(true);
  reader.OnStatus(429);
  reader.OnBody(R"({"error":{"message":"queue is full","type":"invalid_request_error",)", 0.01);
  reader.OnBody(R"("param":null,"code":"queue_full"}})", 0.01);
  const RequestRecord r = Finish(reader, 0.02);
  EXPECT_EQ(r.error, ErrorKind::kHttpStatus);
  EXPECT_EQ(r.http_status, 429);
  EXPECT_EQ(r.error_message, "HTTP 429: queue is full");
}

TEST(ResponseReaderTest, WholeResponseUsesUsageAndHasNoTtft) {
  ResponseReader reader(/*streaming=*/false);
  reader.OnStatus(200);
  reader.OnBody(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},)",
                0.3);
  reader.OnBody(R"("finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}})",
                0.4);
  const RequestRecord r = Finish(reader, 0.4);
  ASSERT_TRUE(r.ok()) << r.error_message;
  EXPECT_FALSE(r.ttft_s.has_value());
  EXPECT_TRUE(r.itl_s.empty());
  EXPECT_EQ(r.output_tokens, 2);
  EXPECT_EQ(r.prompt_tokens, 5);
  EXPECT_DOUBLE_EQ(r.e2e_s, 0.4);
}

}  // namespace
}  // namespace surge::bench
