#include "router/sse_framer.h"

#include <string>

#include "gtest/gtest.h"

namespace surge::router {
namespace {

TEST(SseFramerTest, HoldsBackAnUnfinishedEvent) {
  SseFramer f;
  EXPECT_EQ(f.Feed("data: one\n\ndata: tw"), "data: one\n\n");
  EXPECT_EQ(f.pending(), "data: tw");
  EXPECT_EQ(f.Feed("o\n"), "");
  EXPECT_EQ(f.Feed("\n"), "data: two\n\n");
  EXPECT_EQ(f.pending(), "");
}

TEST(SseFramerTest, SeveralEventsAtOnceGoOutTogether) {
  SseFramer f;
  EXPECT_EQ(f.Feed("data: a\n\ndata: b\n\ndata: c"), "data: a\n\ndata: b\n\n");
  EXPECT_EQ(f.pending(), "data: c");
}

TEST(SseFramerTest, CrLfAndCrLineEnds) {
  SseFramer f;
  EXPECT_EQ(f.Feed("data: a\r\n\r"), "data: a\r\n\r");
  EXPECT_EQ(f.Feed("\ndata: b\r\r"), "\ndata: b\r\r");
  EXPECT_EQ(f.Feed("event: x\r\ndata: c\r\n\r\n"), "event: x\r\ndata: c\r\n\r\n");
}

TEST(SseFramerTest, ByteByByteGivesTheSameStream) {
  const std::string stream =
      "data: {\"x\":1}\n\n: comment\n\nevent: e\r\ndata: y\r\n\r\ndata: [DONE]\n\ndata: tail";
  SseFramer whole, bytes;
  const std::string at_once = whole.Feed(stream);
  std::string pieced;
  for (char c : stream) pieced += bytes.Feed(std::string(1, c));
  EXPECT_EQ(pieced, at_once);
  EXPECT_EQ(at_once + whole.pending(), stream);
  EXPECT_EQ(bytes.pending(), "data: tail");
}

TEST(SseFramerTest, ALineBreakInsideAnEventIsNotABoundary) {
  SseFramer f;
  EXPECT_EQ(f.Feed("data: a\ndata: b\n"), "");
  EXPECT_EQ(f.Feed("\n"), "data: a\ndata: b\n\n");
}

}  // namespace
}  // namespace surge::router
