// StopMatcher finds stop strings in a sequence's streamed text, across token
// boundaries, and decides how much text is safe to emit: text that could be
// the beginning of a stop string is held back until it is known not to be.
// The stop string itself is never emitted.
//
// Thread safety: one per sequence; confined to the engine loop.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace surge::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string emit;      // text safe to send now
    bool stopped = false;  // a stop string matched; nothing after it is emitted
  };

  // Adds newly decoded text.
  Result Push(std::string_view text);
  // The held-back remainder at the end of the sequence.
  std::string Flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace surge::engine
