#include "engine/model/bpe_tokenizer.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

uint64_t MergeKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Byte-level token text → raw bytes; code points outside the byte alphabet
// (and invalid UTF-8) are kept as they are.
std::string ByteLevelDecode(std::string_view text) {
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = DecodeUtf8(text, pos);
    std::optional<uint8_t> byte;
    if (c.kind == Utf8Char::Kind::kValid) byte = UnicodeToByte(c.code_point);
    if (byte.has_value()) {
      out.push_back(static_cast<char>(*byte));
    } else {
      out.append(text.substr(pos, c.length));
    }
    pos += c.length;
  }
  return out;
}

}  // namespace

struct BpeTokenizer::Symbol {
  uint32_t start;       // in the byte-level encoded word
  uint32_t length;      // encoded bytes; 0 once merged into its left neighbour
  uint32_t word_start;  // in the raw word
  uint32_t word_length;
  int32_t id;  // token of this text, -1 if none
  int32_t prev;
  int32_t next;
};

struct BpeTokenizer::Bigram {
  int32_t rank;
  int32_t left;
  int32_t left_id;
  int32_t right_id;

  // Heap order: lowest rank on top; among equal ranks the leftmost pair.
  static bool Below(const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

struct BpeTokenizer::Scratch {
  std::vector<std::string_view> words;
  std::string encoded;
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
};

BpeTokenizer::BpeTokenizer(Vocab vocab, std::unique_ptr<PreTokenizer> pre)
    : Tokenizer(std::move(vocab)), pre_(std::move(pre)) {}

absl::StatusOr<std::unique_ptr<Tokenizer>> BpeTokenizer::Create(Vocab vocab) {
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre, PreTokenizer::Create(vocab.pre));
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer(std::move(vocab), std::move(pre)));
  SURGE_RETURN_IF_ERROR(tok->Init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

absl::Status BpeTokenizer::Init() {
  for (int32_t id = 0; id < vocab_size(); ++id) {
    const std::string& text = vocab_.tokens[id];
    const TokenType type = vocab_.types[id];
    if (type == TokenType::kUserDefined) {
      pieces_[id] = text;  // added tokens are stored as plain text
      text_tokens_[text] = id;
    } else if (IsTextType(type) || type == TokenType::kByte) {
      pieces_[id] = ByteLevelDecode(text);
      text_tokens_[text] = id;
    }
  }
  for (int b = 0; b < 256; ++b) byte_tokens_[b] = TextToken(ByteToUnicode(static_cast<uint8_t>(b)));

  merge_rank_.reserve(vocab_.merges.size());
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const std::string_view merge = vocab_.merges[rank];
    const size_t space = merge.find(' ', 1);
    if (space == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer.ggml.merges[", rank, "] = \"",
                                                     absl::CHexEscape(AbslView(merge)),
                                                     "\" is not of the form \"left right\""));
    }
    const std::string_view sides[2] = {merge.substr(0, space), merge.substr(space + 1)};
    int32_t ids[2];
    for (int i = 0; i < 2; ++i) {
      const std::optional<int32_t> id = FindToken(sides[i]);
      if (!id.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tokenizer.ggml.merges[", rank, "] = \"", absl::CHexEscape(AbslView(merge)), "\": \"",
            absl::CHexEscape(AbslView(sides[i])), "\" is not a token"));
      }
      ids[i] = *id;
    }
    merge_rank_.try_emplace(MergeKey(ids[0], ids[1]), static_cast<int32_t>(rank));
  }
  return absl::OkStatus();
}

int32_t BpeTokenizer::TextToken(std::string_view text) const {
  const auto it = text_tokens_.find(text);
  return it == text_tokens_.end() ? -1 : it->second;
}

void BpeTokenizer::EncodeText(std::string_view text, bool /*after_special*/,
                              std::vector<int32_t>* out) const {
  Scratch scratch;
  pre_->Split(text, &scratch.words);
  for (std::string_view word : scratch.words) EncodeWord(word, &scratch, out);
}

void BpeTokenizer::EncodeWord(std::string_view word, Scratch* scratch,
                              std::vector<int32_t>* out) const {
  std::string* encoded = &scratch->encoded;
  encoded->clear();
  std::vector<Symbol>& symbols = scratch->symbols;
  symbols.clear();
  for (size_t i = 0; i < word.size(); ++i) {
    const std::string_view text = ByteToUnicode(static_cast<uint8_t>(word[i]));
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(encoded->size()), static_cast<uint32_t>(text.size()),
                       static_cast<uint32_t>(i), 1, TextToken(text), index - 1, index + 1});
    encoded->append(text);
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;
  const std::string_view enc = *encoded;

  const int32_t whole = pre_->ignore_merges() ? TextToken(enc) : -1;
  if (whole >= 0) {
    out->push_back(whole);
    return;
  }

  std::vector<Bigram>& heap = scratch->heap;
  heap.clear();
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].id < 0 || symbols[right].id < 0) return;
    const auto it = merge_rank_.find(MergeKey(symbols[left].id, symbols[right].id));
    if (it == merge_rank_.end()) return;
    heap.push_back({it->second, left, symbols[left].id, symbols[right].id});
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
    if (left.length == 0 || left.next < 0 || left.id != b.left_id) continue;
    Symbol& right = symbols[left.next];
    if (right.id != b.right_id) continue;  // stale: the right side has changed
    left.length += right.length;
    left.word_length += right.word_length;
    left.id = TextToken(enc.substr(left.start, left.length));
    right.length = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& sym = symbols[i];
    if (sym.id >= 0) {
      out->push_back(sym.id);
      continue;
    }
    for (char c : word.substr(sym.word_start, sym.word_length)) {
      const int32_t id = byte_tokens_[static_cast<uint8_t>(c)];
      if (id >= 0) {
        out->push_back(id);
      } else if (vocab_.unk_id >= 0) {
        out->push_back(vocab_.unk_id);
      }
    }
  }
}

}  // namespace surge::engine::model
