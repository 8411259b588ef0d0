#include "engine/model/spm_tokenizer.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 "▁"

// Parses "<0xXX>" (as SentencePiece writes byte pieces).
std::optional<uint8_t> ParseBytePiece(std::string_view text) {
  if (text.size() != 6 || !text.starts_with("<0x") || text[5] != '>') return std::nullopt;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = value * 16 + digit;
  }
  return static_cast<uint8_t>(value);
}

// "▁" → " ".
std::string UnescapeSpaces(std::string_view text) {
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    if (text.substr(pos).starts_with(kSpace)) {
      out.push_back(' ');
      pos += kSpace.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

// Calls fn(previous, current) for each symbol of `s` (a UTF-8 character, or
// one byte of an invalid sequence); previous is empty for the first.
template <typename Fn>
void ForEachSymbol(std::string_view s, Fn fn) {
  std::string_view prev;
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Char c = DecodeUtf8(s, pos);
    const std::string_view cur = s.substr(pos, c.kind == Utf8Char::Kind::kValid ? c.length : 1);
    fn(prev, cur);
    prev = cur;
    pos += cur.size();
  }
}

}  // namespace

struct SpmTokenizer::Symbol {
  uint32_t start;
  uint32_t length;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct SpmTokenizer::Bigram {
  float score;
  int32_t left;
  uint32_t length;

  // Heap order: highest score on top; among equal scores the leftmost pair.
  static bool Below(const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

struct SpmTokenizer::Scratch {
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
};

SpmTokenizer::SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {}

absl::StatusOr<std::unique_ptr<Tokenizer>> SpmTokenizer::Create(Vocab vocab) {
  std::unique_ptr<SpmTokenizer> tok(new SpmTokenizer(std::move(vocab)));
  SURGE_RETURN_IF_ERROR(tok->Init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

absl::Status SpmTokenizer::Init() {
  byte_tokens_.fill(-1);
  for (int32_t id = 0; id < vocab_size(); ++id) {
    const std::string& text = vocab_.tokens[id];
    const TokenType type = vocab_.types[id];
    if (type == TokenType::kByte) {
      const std::optional<uint8_t> byte = ParseBytePiece(text);
      if (!byte.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("token ", id, " \"", absl::CHexEscape(text),
                                                       "\" has type byte but is not <0xXX>"));
      }
      pieces_[id] = std::string(1, static_cast<char>(*byte));
      byte_tokens_[*byte] = id;
    } else if (IsTextType(type)) {
      pieces_[id] = UnescapeSpaces(text);
      text_pieces_[text] = id;
      max_piece_bytes_ = std::max(max_piece_bytes_, text.size());
      // Remember each character x that some piece holds as "x▁" (x not ▁):
      // merges may cross a word start after such an x.
      ForEachSymbol(text, [&](std::string_view prev, std::string_view cur) {
        if (cur == kSpace && !prev.empty() && prev != kSpace) joins_space_.emplace(prev);
      });
    }
  }
  return absl::OkStatus();
}

void SpmTokenizer::AppendSymbol(std::string_view symbol, std::vector<int32_t>* out) const {
  const auto it = text_pieces_.find(symbol);
  if (it != text_pieces_.end()) {
    out->push_back(it->second);
    return;
  }
  bool all_bytes = true;
  for (char c : symbol) all_bytes = all_bytes && byte_tokens_[static_cast<uint8_t>(c)] >= 0;
  if (all_bytes) {
    for (char c : symbol) out->push_back(byte_tokens_[static_cast<uint8_t>(c)]);
  } else if (vocab_.unk_id >= 0) {
    out->push_back(vocab_.unk_id);
  }
  // Otherwise the vocabulary cannot represent the symbol; it is dropped.
}

void SpmTokenizer::EncodeText(std::string_view text, bool after_special,
                              std::vector<int32_t>* out) const {
  std::string s;
  s.reserve(text.size() + kSpace.size());
  if (vocab_.add_space_prefix && after_special) s.append(kSpace);
  for (char c : text) {
    if (c == ' ') {
      s.append(kSpace);
    } else {
      s.push_back(c);
    }
  }
  // Cut the text before each word-initial ▁ that no piece reaches across,
  // and merge the words one by one: same result, much smaller queues.
  Scratch scratch;
  const std::string_view all = s;
  size_t begin = 0;
  ForEachSymbol(all, [&](std::string_view prev, std::string_view cur) {
    if (cur == kSpace && !prev.empty() && prev != kSpace && !joins_space_.contains(prev)) {
      const auto cut = static_cast<size_t>(cur.data() - all.data());
      EncodeSegment(all.substr(begin, cut - begin), &scratch, out);
      begin = cut;
    }
  });
  EncodeSegment(all.substr(begin), &scratch, out);
}

void SpmTokenizer::EncodeSegment(std::string_view s, Scratch* scratch,
                                 std::vector<int32_t>* out) const {
  std::vector<Symbol>& symbols = scratch->symbols;
  symbols.clear();
  ForEachSymbol(s, [&](std::string_view, std::string_view cur) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(cur.data() - s.data()),
                       static_cast<uint32_t>(cur.size()), index - 1, index + 1});
  });
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::vector<Bigram>& heap = scratch->heap;
  heap.clear();
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t length = symbols[left].length + symbols[right].length;
    if (length > max_piece_bytes_) return;
    const auto it = text_pieces_.find(s.substr(symbols[left].start, length));
    if (it == text_pieces_.end()) return;
    heap.push_back({vocab_.scores[it->second], left, length});
    std::push_heap(heap.begin(), heap.end(), &Bigram::Below);
  };
  for (size_t i = 1; i < symbols.size(); ++i) {
    try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), &Bigram::Below);
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& left = symbols[b.left];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (left.length + right.length != b.length) continue;  // stale: a side has changed
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    AppendSymbol(s.substr(symbols[i].start, symbols[i].length), out);
  }
}

}  // namespace surge::engine::model
