#include "engine/stop_matcher.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace surge::engine {
namespace {

// Feeds pieces; returns everything emitted and whether it stopped.
std::pair<std::string, bool> Feed(std::vector<std::string> stops,
                                  const std::vector<std::string>& pieces) {
  StopMatcher m(std::move(stops));
  std::string out;
  for (const std::string& p : pieces) {
    StopMatcher::Result r = m.Push(p);
    out += r.emit;
    if (r.stopped) return {out, true};
  }
  return {out + m.Flush(), false};
}

TEST(StopMatcherTest, Table) {
  struct Case {
    std::vector<std::string> stops;
    std::vector<std::string> pieces;
    std::string want;
    bool stopped;
  } cases[] = {
      {{}, {"a", "b"}, "ab", false},
      {{"END"}, {"hello ", "EN", "D tail"}, "hello ", true},  // across pieces
      {{"END"}, {"hello EN", "x"}, "hello ENx", false},       // held, then released
      {{"\n\n"}, {"line\n", "\n", "more"}, "line", true},
      {{"abc", "b"}, {"xab"}, "xa", true},  // earliest match wins
      {{"stop"}, {"st", "o", "p"}, "", true},
      {{"ab"}, {"aab"}, "a", true},
      {{""}, {"keep"}, "keep", false},                  // empty stops ignored
      {{"ü"}, {"gr\xc3", "\xbc\xc3\x9f"}, "gr", true},  // multi-byte
  };
  for (const Case& c : cases) {
    auto [got, stopped] = Feed(c.stops, c.pieces);
    EXPECT_EQ(got, c.want);
    EXPECT_EQ(stopped, c.stopped);
  }
}

}  // namespace
}  // namespace surge::engine
