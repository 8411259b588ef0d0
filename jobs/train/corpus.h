// Corpus is the text a model trains on, as a list of documents; the trainer
// puts an end-of-text token after each one.
//
// Built-in corpora, read from freely licensed Debian packages:
//   "kjv"      The King James Bible (public domain), from the `bible`
//              program of bible-kjv with the text of bible-kjv-text. One
//              document per book; chapter and verse numbers are dropped,
//              each verse is one line, chapters are separated by a blank line.
//   "fortunes" Every fortune in /usr/share/games/fortunes (package
//              fortunes), files in name order, one document per fortune.
// Any other spec is a path to a UTF-8 text file, read as one document.
//
// Thread safety: plain data; the loaders are reentrant.
// Errors: a missing program or file, or an empty corpus, is an error that
// says what to install or check.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace surge::jobs::train {

struct Corpus {
  std::string name;  // "kjv", "fortunes" or the file path
  std::vector<std::string> documents;

  int64_t num_bytes() const;
  // FNV-1a over the documents (with their boundaries): a checkpoint records
  // it so a resume on different text is refused.
  uint64_t Fingerprint() const;
};

[[nodiscard]] absl::StatusOr<Corpus> LoadCorpus(std::string_view spec);

// The parsers behind LoadCorpus, for tests: the output of
// `bible gen1:1-rev22:21`, and one fortunes file ("%" lines between entries).
[[nodiscard]] absl::StatusOr<Corpus> ParseBibleText(std::string_view text);
std::vector<std::string> ParseFortunes(std::string_view text);

}  // namespace surge::jobs::train
