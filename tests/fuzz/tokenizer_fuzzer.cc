// Fuzzes the tokenizers: arbitrary bytes as text (both default vocabularies,
// both parse_special settings), as token ids (in and out of range), and as
// a whole untrusted vocabulary (what a GGUF file could hold).
//
// Input: byte 0 picks the mode and flags, the rest is the payload.
//   mode 0-1: text; Decode(Encode(text)) must give the text back (as valid UTF-8)
//   mode 2:   little-endian int32 ids; Decode, TokenToPiece, StreamingDecoder
//   mode 3:   a vocabulary: tokens split on '\n' up to a NUL, then text
// Any crash, sanitizer report or broken invariant (trap) is a finding.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_replace.h"
#include "engine/model/tokenizer.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

const std::vector<std::unique_ptr<Tokenizer>>& Defaults() {
  static const auto* toks = [] {
    auto* v = new std::vector<std::unique_ptr<Tokenizer>>();
    for (TokenizerKind kind : {TokenizerKind::kSpm, TokenizerKind::kBpe}) {
      auto tok = Tokenizer::Create(DefaultVocab(kind));
      Require(tok.ok());
      v->push_back(*std::move(tok));
    }
    return v;
  }();
  return *toks;
}

void CheckIds(const Tokenizer& tok, const std::vector<int32_t>& ids, bool render_special) {
  const std::string decoded = tok.Decode(ids, render_special);
  Require(IsValidUtf8(decoded));
  StreamingDecoder stream(tok, render_special);
  std::string streamed;
  for (int32_t id : ids) {
    streamed += stream.Push(id);
    (void)tok.TokenToPiece(id, render_special);
    (void)tok.IsEndOfGeneration(id);
  }
  streamed += stream.Flush();
  Require(streamed == decoded);
}

// What Decode(Encode(text)) must give: valid UTF-8, and for SPM a literal
// "▁" in the text comes back as a space (it is SPM's escape for one).
std::string ExpectedRoundTrip(const Tokenizer& tok, std::string_view text) {
  std::string out = SanitizeUtf8(text);
  if (tok.kind() != TokenizerKind::kSpm) return out;
  return absl::StrReplaceAll(out, {{"\xE2\x96\x81", " "}});
}

void FuzzText(const Tokenizer& tok, std::string_view text, uint8_t flags) {
  const bool add_special = flags & 1;
  for (bool parse_special : {false, true}) {
    const std::vector<int32_t> ids = tok.Encode(text, add_special, parse_special);
    for (int32_t id : ids) Require(id >= 0 && id < tok.vocab_size());
    CheckIds(tok, ids, /*render_special=*/parse_special);
    if (!parse_special) Require(tok.Decode(ids) == ExpectedRoundTrip(tok, text));
  }
}

void FuzzIds(const Tokenizer& tok, std::string_view payload, uint8_t flags) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 4 <= payload.size(); i += 4) {
    uint32_t raw;
    std::memcpy(&raw, payload.data() + i, 4);
    // Keep most ids near the interesting low range (specials, bytes).
    ids.push_back(flags & 2 ? static_cast<int32_t>(raw) : static_cast<int32_t>(raw % 40000) - 8);
  }
  CheckIds(tok, ids, flags & 1);
}

// Builds a vocabulary from untrusted bytes, as a hostile GGUF file might.
void FuzzVocab(std::string_view payload, uint8_t flags) {
  const size_t nul = payload.find('\0');
  const std::string_view table = payload.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? "" : payload.substr(nul + 1);
  static constexpr const char* kPre[] = {"gpt2", "llama-bpe", "qwen2", "default", "bogus"};
  Vocab v;
  v.kind = flags & 1 ? TokenizerKind::kBpe : TokenizerKind::kSpm;
  v.pre = kPre[(flags >> 1) % 5];
  v.add_bos = flags & 16;
  v.add_eos = flags & 16;
  v.add_space_prefix = flags & 32;
  size_t start = 0;
  while (start <= table.size() && v.tokens.size() < 512) {
    const size_t end = std::min(table.find('\n', start), table.size());
    const std::string_view line = table.substr(start, end - start);
    const uint8_t tag = line.empty() ? 0 : static_cast<uint8_t>(line[0]);
    const std::string body(line.empty() ? line : line.substr(1));
    if (tag % 5 == 0 && v.kind == TokenizerKind::kBpe) {
      v.merges.push_back(body);  // "a b", or garbage
    } else {
      // Type from the tag; 7 is invalid. Byte type only for "<0x.." texts,
      // so that SPM vocabularies get past validation often enough.
      int type = tag % 8;
      if (type == 6 && !body.starts_with("<0x")) type = 1;
      v.tokens.push_back(body);
      v.types.push_back(static_cast<TokenType>(type));
      v.scores.push_back(static_cast<float>(static_cast<int8_t>(tag)));
    }
    start = end + 1;
  }
  const auto n = static_cast<int32_t>(v.tokens.size());
  v.bos_id = n > 0 ? 0 : -1;
  v.eos_id = n > 1 ? 1 : -1;
  v.unk_id = n > 2 ? 2 : -1;
  auto tok = Tokenizer::Create(std::move(v));
  if (!tok.ok()) return;
  for (bool parse_special : {false, true}) {
    const std::vector<int32_t> ids = (*tok)->Encode(text, true, parse_special);
    for (int32_t id : ids) Require(id >= 0 && id < (*tok)->vocab_size());
    CheckIds(**tok, ids, parse_special);
  }
}

}  // namespace
}  // namespace surge::engine::model

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace surge::engine::model;
  if (size == 0 || size > 1 << 16) return 0;
  const uint8_t head = data[0];
  const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
  const uint8_t flags = head >> 2;
  switch (head & 3) {
    case 0:
    case 1:
      for (const auto& tok : Defaults()) FuzzText(*tok, payload, flags);
      break;
    case 2:
      for (const auto& tok : Defaults()) FuzzIds(*tok, payload, flags);
      break;
    case 3:
      FuzzVocab(payload, flags);
      break;
  }
  return 0;
}
