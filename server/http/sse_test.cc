#include "server/http/sse.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace surge::server::http {
namespace {

std::vector<SseEvent> ParseAll(std::string_view stream) {
  SseParser parser;
  std::vector<SseEvent> events;
  EXPECT_TRUE(parser.Feed(stream, &events).ok());
  return events;
}

// Feeds the stream one byte at a time: every split point must give the same
// events as one piece.
std::vector<SseEvent> ParseByteByByte(std::string_view stream) {
  SseParser parser;
  std::vector<SseEvent> events;
  for (char c : stream) EXPECT_TRUE(parser.Feed(std::string_view(&c, 1), &events).ok());
  return events;
}

void ExpectSame(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].event, b[i].event);
    EXPECT_EQ(a[i].data, b[i].data);
    EXPECT_EQ(a[i].id, b[i].id);
  }
}

TEST(SseParserTest, OpenAiStyleStream) {
  const std::string stream =
      "data: {\"id\":1}\n\n"
      "data: {\"id\":2}\n\n"
      "data: [DONE]\n\n";
  const auto events = ParseAll(stream);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].data, "{\"id\":1}");
  EXPECT_EQ(events[0].event, "");
  EXPECT_EQ(events[2].data, "[DONE]");
  ExpectSame(events, ParseByteByByte(stream));
}

TEST(SseParserTest, LineEndingsCrLfLfAndCr) {
  for (const std::string stream : {"data: a\r\n\r\ndata: b\r\n\r\n", "data: a\n\ndata: b\n\n",
                                   "data: a\r\rdata: b\r\r", "data: a\r\n\ndata: b\r\r\n"}) {
    const auto events = ParseAll(stream);
    ASSERT_EQ(events.size(), 2u) << stream;
    EXPECT_EQ(events[0].data, "a");
    EXPECT_EQ(events[1].data, "b");
    ExpectSame(events, ParseByteByByte(stream));
  }
}

TEST(SseParserTest, CrLfSplitAcrossFeedsIsOneLineEnd) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.Feed("data: x\r", &events).ok());
  ASSERT_TRUE(parser.Feed("\ndata: y\r", &events).ok());
  EXPECT_TRUE(events.empty());  // "\r\n" was one line end, not an empty line
  ASSERT_TRUE(parser.Feed("\n\r\n", &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x\ny");
}

TEST(SseParserTest, MultiLineDataJoinsWithNewline) {
  const auto events = ParseAll("data: first\ndata:second\ndata\ndata:  indented\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "first\nsecond\n\n indented");
}

TEST(SseParserTest, CommentsEventTypeIdAndRetry) {
  const std::string stream =
      ": keep-alive\n\n"
      "event: delta\nid: 7\nretry: 1500\ndata: hi\n\n"
      ":another comment\ndata: again\n\n";
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.Feed(stream, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "delta");
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[0].data, "hi");
  EXPECT_EQ(events[1].event, "");  // the type does not carry over
  EXPECT_EQ(events[1].id, "7");    // the last id does
  EXPECT_EQ(parser.retry_ms(), 1500);
}

TEST(SseParserTest, EventsWithoutDataAreNotDispatched) {
  const auto events = ParseAll("event: ping\n\n\n\nid: 3\n\ndata:\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "");
  EXPECT_EQ(events[0].event, "");
}

TEST(SseParserTest, UnknownFieldsAndBadRetryAreIgnored) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.Feed("foo: bar\nretry: 12a\ndata: ok\n\n", &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "ok");
  EXPECT_EQ(parser.retry_ms(), -1);
}

TEST(SseParserTest, LeadingBomIsSkippedEvenWhenSplit) {
  const std::string stream =
      "\xEF\xBB\xBF"
      "data: x\n\n";
  ExpectSame(ParseAll(stream), ParseByteByByte(stream));
  ASSERT_EQ(ParseAll(stream).size(), 1u);
  EXPECT_EQ(ParseAll(stream)[0].data, "x");
}

TEST(SseParserTest, IncompleteEventAtEndIsHeldBack) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.Feed("data: partial", &events).ok());
  ASSERT_TRUE(parser.Feed(" line\n", &events).ok());
  EXPECT_TRUE(events.empty());
  ASSERT_TRUE(parser.Feed("\n", &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "partial line");
}

TEST(SseParserTest, OverlongLineIsAnError) {
  SseParser parser(/*max_line_bytes=*/16);
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.Feed("data: 0123456789", &events).ok());
  EXPECT_FALSE(parser.Feed("abcdef", &events).ok());
}

}  // namespace
}  // namespace surge::server::http
