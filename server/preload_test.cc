// The --preload file format: what it accepts, and errors that name the line.
#include "server/preload.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace surge::server {
namespace {

using ::testing::HasSubstr;

TEST(PreloadTest, ParsesPromptsAndChatsWithOptionalModelAndTenant) {
  absl::StatusOr<std::vector<PreloadPrompt>> p = ParsePreloadText(
      "# comment\n"
      "\n"
      R"({"prompt": "You are a helpful assistant."})"
      "\n"
      R"({"messages": [{"role": "system", "content": "Be brief."}], "model": "m", "tenant": "acme"})"
      "\n");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].line, 3);
  EXPECT_EQ((*p)[0].text, "You are a helpful assistant.");
  EXPECT_TRUE((*p)[0].model.empty());
  EXPECT_EQ((*p)[1].line, 4);
  EXPECT_FALSE((*p)[1].text.has_value());
  ASSERT_EQ((*p)[1].messages.size(), 1u);
  EXPECT_EQ((*p)[1].messages[0].role, "system");
  EXPECT_EQ((*p)[1].messages[0].content, "Be brief.");
  EXPECT_EQ((*p)[1].model, "m");
  EXPECT_EQ((*p)[1].tenant, "acme");
}

TEST(PreloadTest, ErrorsNameTheLineAndTheProblem) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"{\"prompt\": \"a\"}\nnot json", "line 2"},
      {R"({"prompt": "a", "messages": []})", "exactly one of"},
      {R"({"model": "m"})", "exactly one of"},
      {R"({"prompt": ""})", "empty"},
      {R"({"prompt": 3})", "'prompt' must be a string"},
      {R"({"prompt": "a", "temperature": 0})", "unknown field 'temperature'"},
      {R"({"messages": "hi"})", "non-empty array"},
      {R"({"messages": [{"role": "robot", "content": "x"}]})", "unknown role 'robot'"},
      {R"({"messages": [{"role": "user"}]})", "string 'content'"},
      {R"({"prompt": "a", "tenant": 5})", "'tenant' must be a string"},
      {"[1, 2]", "line 1"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<PreloadPrompt>> p = ParsePreloadText(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(p.status().message(), HasSubstr("--preload line")) << c.text;
    EXPECT_THAT(p.status().message(), HasSubstr(c.want)) << c.text;
  }
}

TEST(PreloadTest, MissingFileIsAClearError) {
  absl::StatusOr<std::vector<PreloadPrompt>> p = ParsePreloadFile("/nonexistent/preload.jsonl");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("/nonexistent/preload.jsonl"));
}

}  // namespace
}  // namespace surge::server
