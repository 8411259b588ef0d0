#include "router/request_info.h"

#include <string>

#include "gtest/gtest.h"

namespace surge::router {
namespace {

const PrefixOptions kSmallBlocks{.block_bytes = 16, .max_blocks = 64};

std::string Chat(const std::string& system, const std::string& user) {
  return R"({"model":"m1","stream":true,"max_tokens":7,"messages":[{"role":"system","content":")" +
         system + R"("},{"role":"user","content":")" + user + R"("}]})";
}

size_t SharedLeading(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

TEST(RequestInfoTest, ChatFieldsAndSharedSystemPrompt) {
  const std::string system(100, 'x');
  absl::StatusOr<RequestInfo> a = ParseRequestInfo(Chat(system, "hello there"), "", kSmallBlocks);
  absl::StatusOr<RequestInfo> b =
      ParseRequestInfo(Chat(system, "something else"), "", kSmallBlocks);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->model, "m1");
  EXPECT_TRUE(a->stream);
  EXPECT_EQ(a->max_tokens, 7);
  // "system" + separator + 100 bytes = 107 bytes: 6 full blocks in common.
  EXPECT_GE(SharedLeading(a->prefix_hashes, b->prefix_hashes), 6u);
  EXPECT_NE(a->prefix_hashes.back(), b->prefix_hashes.back());
}

TEST(RequestInfoTest, ContentPartsCountAsText) {
  const std::string parts = R"({"messages":[{"role":"user","content":[{"type":"text","text":")" +
                            std::string(40, 'p') + R"("}]}]})";
  const std::string plain =
      R"({"messages":[{"role":"user","content":")" + std::string(40, 'p') + R"("}]})";
  absl::StatusOr<RequestInfo> a = ParseRequestInfo(parts, "", kSmallBlocks);
  absl::StatusOr<RequestInfo> b = ParseRequestInfo(plain, "", kSmallBlocks);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->prefix_hashes, b->prefix_hashes);
  EXPECT_FALSE(a->prefix_hashes.empty());
}

TEST(RequestInfoTest, CompletionPromptForms) {
  const std::string text(48, 'q');
  absl::StatusOr<RequestInfo> s =
      ParseRequestInfo(R"({"prompt":")" + text + R"("})", "", kSmallBlocks);
  absl::StatusOr<RequestInfo> batch =
      ParseRequestInfo(R"({"prompt":[")" + text + R"(","other"]})", "", kSmallBlocks);
  absl::StatusOr<RequestInfo> ids = ParseRequestInfo(
      R"({"prompt":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]})", "", kSmallBlocks);
  ASSERT_TRUE(s.ok() && batch.ok() && ids.ok());
  EXPECT_EQ(s->prefix_hashes.size(), 3u);
  EXPECT_EQ(s->prefix_hashes, batch->prefix_hashes);
  EXPECT_EQ(ids->prefix_hashes.size(), 3u);  // "1,2,...,20," is 51 bytes
  EXPECT_EQ(s->model, "");
  EXPECT_FALSE(s->stream);
}

TEST(RequestInfoTest, TenantSaltsTheHashes) {
  const std::string body = Chat(std::string(64, 'z'), "u");
  absl::StatusOr<RequestInfo> a = ParseRequestInfo(body, "Bearer a", kSmallBlocks);
  absl::StatusOr<RequestInfo> b = ParseRequestInfo(body, "Bearer b", kSmallBlocks);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(SharedLeading(a->prefix_hashes, b->prefix_hashes), 0u);
}

TEST(RequestInfoTest, BlocksAreCapped) {
  absl::StatusOr<RequestInfo> r =
      ParseRequestInfo(R"({"prompt":")" + std::string(10000, 'c') + R"("})", "",
                       {.block_bytes = 16, .max_blocks = 5});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prefix_hashes.size(), 5u);
  EXPECT_EQ(r->prompt_bytes, 10000u);
}

TEST(RequestInfoTest, TokenEstimate) {
  RequestInfo r;
  r.prompt_bytes = 400;
  EXPECT_EQ(r.EstimatedTokens(256), 101 + 256);
  r.max_tokens = 10;
  r.n = 3;
  EXPECT_EQ(r.EstimatedTokens(256), 101 + 30);
}

TEST(RequestInfoTest, BadBodiesAreInvalidArgument) {
  for (const std::string body : {"", "not json", "[1,2]", "\"s\"", "{\"model\":"}) {
    absl::StatusOr<RequestInfo> r = ParseRequestInfo(body, "", kSmallBlocks);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << body;
  }
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_TRUE(absl::IsInvalidArgument(ParseRequestInfo(deep, "", kSmallBlocks).status()));
}

TEST(RequestInfoTest, OddFieldTypesAreIgnored) {
  absl::StatusOr<RequestInfo> r = ParseRequestInfo(
      R"({"model":5,"stream":"yes","max_tokens":"many","messages":[1,{"role":2,"content":{}}]})",
      "", kSmallBlocks);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model, "");
  EXPECT_FALSE(r->stream);
  EXPECT_EQ(r->max_tokens, 0);
}

TEST(JsonDepthTest, BracketsInStringsDoNotCount) {
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"[[[[[[[[[[\"[[[["})", 2));
  EXPECT_FALSE(JsonDepthWithin("[[[1]]]", 2));
  EXPECT_TRUE(JsonDepthWithin("[[1],[2],[3]]", 2));
}

}  // namespace
}  // namespace surge::router
