#include "engine/model/default_vocab.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "base/status.h"
#include "engine/model/default_vocab_data.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

// Calls fn(line_number, line) for each non-empty line.
template <typename Fn>
absl::Status ForEachLine(std::string_view text, Fn fn) {
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty()) SURGE_RETURN_IF_ERROR(fn(line_number, line));
  }
  return absl::OkStatus();
}

int HexValue(char c) {
  return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10;
}

absl::Status SizeError(const char* what, size_t size) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has ", size, " tokens, expected ", kDefaultVocabSize));
}

}  // namespace

absl::StatusOr<Vocab> ParseDefaultBpeVocab(std::string_view merges_text) {
  Vocab v;
  v.kind = TokenizerKind::kBpe;
  v.pre = "qwen2";
  v.add_space_prefix = false;
  absl::flat_hash_set<std::string> known;
  for (int b = 0; b < 256; ++b) {
    v.tokens.emplace_back(ByteToUnicode(static_cast<uint8_t>(b)));
    known.insert(v.tokens.back());
  }
  SURGE_RETURN_IF_ERROR(ForEachLine(merges_text, [&](size_t n, std::string_view line) {
    const size_t space = line.find(' ', 1);
    if (space == std::string_view::npos || space + 1 == line.size()) {
      return absl::InvalidArgumentError(absl::StrCat("BPE merges line ", n, " is not \"a b\""));
    }
    std::string merged =
        absl::StrCat(AbslView(line.substr(0, space)), AbslView(line.substr(space + 1)));
    if (known.insert(merged).second) v.tokens.push_back(std::move(merged));
    v.merges.emplace_back(line);
    return absl::OkStatus();
  }));
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  for (std::string_view special : kDefaultBpeSpecials) {
    v.tokens.emplace_back(special);
    v.types.push_back(TokenType::kControl);
  }
  if (v.tokens.size() != kDefaultVocabSize)
    return SizeError("default BPE vocabulary", v.tokens.size());
  const auto first_special = static_cast<int32_t>(v.tokens.size() - 3);
  v.eos_id = first_special;  // <|endoftext|>
  v.bos_id = first_special;  // as in Qwen2; add_bos stays false
  v.pad_id = first_special;
  v.eot_id = first_special + 2;  // <|im_end|>
  return v;
}

absl::StatusOr<Vocab> ParseDefaultSpmVocab(std::string_view pieces_text) {
  Vocab v;
  v.kind = TokenizerKind::kSpm;
  v.add_bos = true;
  v.add_space_prefix = true;
  auto add = [&v](std::string text, float score, TokenType type) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, TokenType::kUnknown);
  add("<s>", 0.0f, TokenType::kControl);
  add("</s>", 0.0f, TokenType::kControl);
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  for (int b = 0; b < 256; ++b) add(absl::StrFormat("<0x%02X>", b), 0.0f, TokenType::kByte);
  SURGE_RETURN_IF_ERROR(ForEachLine(pieces_text, [&](size_t n, std::string_view line) {
    const size_t tab = line.find('\t');
    int64_t score = 0;
    if (tab == std::string_view::npos || !absl::SimpleAtoi(AbslView(line.substr(0, tab)), &score)) {
      return absl::InvalidArgumentError(
          absl::StrCat("SPM pieces line ", n, " is not \"score<TAB>piece\""));
    }
    SURGE_ASSIGN_OR_RETURN(std::string piece, UnescapePiece(line.substr(tab + 1)));
    add(std::move(piece), static_cast<float>(score), TokenType::kNormal);
    return absl::OkStatus();
  }));
  if (v.tokens.size() != kDefaultVocabSize)
    return SizeError("default SPM vocabulary", v.tokens.size());
  return v;
}

std::string EscapePiece(std::string_view piece) {
  std::string out;
  for (char c : piece) {
    const auto u = static_cast<uint8_t>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02X", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<std::string> UnescapePiece(std::string_view escaped) {
  std::string out;
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '\\') {
      out.push_back(escaped[i]);
      continue;
    }
    const std::string_view rest = escaped.substr(i + 1);
    if (rest.starts_with('\\')) {
      out.push_back('\\');
      i += 1;
    } else if (rest.starts_with('n')) {
      out.push_back('\n');
      i += 1;
    } else if (rest.starts_with('t')) {
      out.push_back('\t');
      i += 1;
    } else if (rest.size() >= 3 && rest[0] == 'x' && absl::ascii_isxdigit(rest[1]) &&
               absl::ascii_isxdigit(rest[2])) {
      out.push_back(static_cast<char>(HexValue(rest[1]) * 16 + HexValue(rest[2])));
      i += 3;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("bad escape in piece \"", absl::CHexEscape(AbslView(escaped)), "\""));
    }
  }
  return out;
}

Vocab DefaultVocab(TokenizerKind kind) {
  // Parsed once, on first use; the data is ours, so a parse error is a bug.
  if (kind == TokenizerKind::kBpe) {
    static const Vocab* bpe = [] {
      absl::StatusOr<Vocab> v = ParseDefaultBpeVocab(DefaultBpeMergesText());
      SURGE_CHECK_MSG(v.ok(), v.status().ToString().c_str());
      return new Vocab(*std::move(v));
    }();
    return *bpe;
  }
  static const Vocab* spm = [] {
    absl::StatusOr<Vocab> v = ParseDefaultSpmVocab(DefaultSpmPiecesText());
    SURGE_CHECK_MSG(v.ok(), v.status().ToString().c_str());
    return new Vocab(*std::move(v));
  }();
  return *spm;
}

}  // namespace surge::engine::model
