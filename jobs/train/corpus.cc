#include "jobs/train/corpus.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace surge::jobs::train {
namespace {

constexpr char kBibleCommand[] = "bible gen1:1-rev22:21 < /dev/null 2>/dev/null";
constexpr char kFortunesDir[] = "/usr/share/games/fortunes";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("corpus: cannot read ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("corpus: error reading ", path));
  return text;
}

absl::StatusOr<std::string> RunBible() {
  FILE* pipe = popen(kBibleCommand, "r");
  if (pipe == nullptr) return absl::InternalError("corpus kjv: cannot start the bible program");
  std::string out;
  char buf[1 << 16];
  for (size_t got; (got = fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, got);
  const int status = pclose(pipe);
  if (status != 0 || out.empty()) {
    return absl::FailedPreconditionError(
        "corpus kjv: the `bible` program failed or printed nothing; install it with "
        "`apt-get install bible-kjv bible-kjv-text`");
  }
  return out;
}

// "  12 text" → the verse text after the number; "" if the line is no verse start.
std::string_view VerseText(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  if (i == 0 || i == line.size() || !absl::ascii_isdigit(line[i])) return {};
  while (i < line.size() && absl::ascii_isdigit(line[i])) ++i;
  if (i == line.size() || line[i] != ' ') return {};
  return line.substr(i + 1);
}

// "1 Samuel 3" → "1 Samuel"; "" if the line does not end in a chapter number.
std::string_view BookOf(std::string_view header) {
  const size_t space = header.rfind(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == header.size()) return {};
  for (char c : header.substr(space + 1)) {
    if (!absl::ascii_isdigit(c)) return {};
  }
  return header.substr(0, space);
}

}  // namespace

int64_t Corpus::num_bytes() const {
  int64_t n = 0;
  for (const std::string& d : documents) n += static_cast<int64_t>(d.size());
  return n;
}

uint64_t Corpus::Fingerprint() const {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint8_t byte) { h = (h ^ byte) * 0x100000001b3ull; };
  for (const std::string& d : documents) {
    for (char c : d) mix(static_cast<uint8_t>(c));
    mix(0xff);  // a byte UTF-8 text never holds marks the boundary
  }
  return h;
}

absl::StatusOr<Corpus> ParseBibleText(std::string_view text) {
  Corpus corpus{"kjv", {}};
  std::string book;
  std::string* doc = nullptr;
  bool after_blank = true;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      after_blank = true;
      continue;
    }
    const std::string_view verse = VerseText(line);
    if (after_blank && verse.empty() && !BookOf(line).empty()) {  // "Genesis 1"
      if (std::string(BookOf(line)) != book || doc == nullptr) {
        book = std::string(BookOf(line));
        doc = &corpus.documents.emplace_back();
      } else {
        doc->push_back('\n');  // a blank line between chapters
      }
    } else if (doc != nullptr && !verse.empty()) {
      absl::StrAppend(doc, std::string(verse), "\n");
    } else if (doc != nullptr && !doc->empty()) {  // a verse continues on this line
      doc->back() = ' ';
      absl::StrAppend(doc, std::string(line), "\n");
    }
    after_blank = false;
  }
  std::erase_if(corpus.documents, [](const std::string& d) { return d.empty(); });
  if (corpus.documents.empty()) {
    return absl::InvalidArgumentError("corpus kjv: no verses found in the bible output");
  }
  return corpus;
}

std::vector<std::string> ParseFortunes(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(current);
    if (!trimmed.empty()) out.emplace_back(trimmed.data(), trimmed.size());
    current.clear();
  };
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line == "%") {
      flush();
    } else {
      absl::StrAppend(&current, std::string(line), "\n");
    }
  }
  flush();
  return out;
}

absl::StatusOr<Corpus> LoadCorpus(std::string_view spec) {
  if (spec == "kjv") {
    SURGE_ASSIGN_OR_RETURN(std::string text, RunBible());
    return ParseBibleText(text);
  }
  if (spec == "fortunes") {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(kFortunesDir, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && !name.ends_with(".dat") && !name.ends_with(".u8")) {
        files.push_back(entry.path().string());
      }
    }
    if (ec || files.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "corpus fortunes: no fortune files in ", kFortunesDir, "; `apt-get install fortunes`"));
    }
    std::sort(files.begin(), files.end());
    Corpus corpus{"fortunes", {}};
    for (const std::string& path : files) {
      SURGE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
      for (std::string& f : ParseFortunes(text)) corpus.documents.push_back(std::move(f));
    }
    return corpus;
  }
  SURGE_ASSIGN_OR_RETURN(std::string text, ReadFile(std::string(spec)));
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("corpus: ", std::string(spec), " is empty"));
  }
  return Corpus{std::string(spec), {std::move(text)}};
}

}  // namespace surge::jobs::train
