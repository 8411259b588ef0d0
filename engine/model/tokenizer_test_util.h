// Shared by the tokenizer tests: random text built from pieces that stress
// both algorithms (whitespace runs, CRLF, multi-byte characters, an invalid
// byte, digits and punctuation).
#pragma once

#include <iterator>
#include <random>
#include <string>

namespace surge::engine::model {

inline std::string RandomTokenizerText(std::mt19937& rng) {
  static const std::string kAlphabet[] = {"the",
                                          " ",
                                          "  ",
                                          "\n",
                                          "\n  ",
                                          "\t",
                                          "and",
                                          "ing",
                                          "Lord",
                                          ",",
                                          ".",
                                          "'s",
                                          "1",
                                          "23",
                                          "\xC3\xA9",
                                          "\xE2\x82\xAC",
                                          "\xF0\x9F\x98\x80",
                                          "\xFF",
                                          "(",
                                          "x",
                                          "Q",
                                          "==",
                                          "\r\n"};
  std::string text;
  for (int n = rng() % 24; n > 0; --n) text += kAlphabet[rng() % std::size(kAlphabet)];
  return text;
}

}  // namespace surge::engine::model
