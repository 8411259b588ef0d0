#include "server/openai/keep_alive.h"

#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "server/openai/errors.h"
#include "server/openai/parse.h"

namespace surge::server::openai {
namespace {

using std::chrono::milliseconds;

TEST(KeepAliveTest, TextForms) {
  struct Case {
    std::string text;
    int64_t want_ms;
  } cases[] = {
      {"5m", 300000},  {"1h30m", 5400000}, {"250ms", 250}, {"0", 0},
      {"300", 300000}, {"1.5", 1500},      {"-1", -1},     {"-5m", -1},
  };
  for (const Case& c : cases) {
    absl::StatusOr<milliseconds> got = ParseKeepAliveText(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(got->count(), c.want_ms) << c.text;
  }
  for (const char* bad : {"", "soon", "5 minutes", "inf", "1e300", "nan"}) {
    EXPECT_FALSE(ParseKeepAliveText(bad).ok()) << bad;
  }
}

TEST(KeepAliveTest, RequestField) {
  ParseLimits limits;
  auto parse = [&](const std::string& keep_alive) {
    return ParseCompletionRequest(R"({"model":"m","prompt":"x","keep_alive":)" + keep_alive + "}",
                                  limits);
  };
  absl::StatusOr<CompletionRequest> a = parse("10");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->keep_alive, milliseconds(10000));
  absl::StatusOr<CompletionRequest> b = parse(R"("2m")");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->keep_alive, milliseconds(120000));
  absl::StatusOr<CompletionRequest> c = parse("-1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->keep_alive, milliseconds(-1));
  absl::StatusOr<CompletionRequest> none =
      ParseCompletionRequest(R"({"model":"m","prompt":"x"})", limits);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->keep_alive.has_value());
  for (const char* bad : {"true", "[1]", R"("later")"}) {
    absl::StatusOr<CompletionRequest> r = parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    ApiError e = ApiErrorFromStatus(r.status());
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.param, "keep_alive");
  }
}

TEST(KeepAliveTest, Printing) {
  EXPECT_EQ(KeepAliveString(milliseconds(-1)), "forever");
  EXPECT_EQ(KeepAliveString(milliseconds(300000)), "5m");
}

}  // namespace
}  // namespace surge::server::openai
