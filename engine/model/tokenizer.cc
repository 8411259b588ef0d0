#include "engine/model/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "engine/model/bpe_tokenizer.h"
#include "engine/model/spm_tokenizer.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

// Texts that end a turn in common chat formats; matched on non-normal tokens.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<end_of_turn>",
    "<|end|>",
    "<|eom_id|>",
    "<|end_of_text|>",
    "<EOT>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
};

absl::Status CheckId(const char* field, int32_t id, size_t n) {
  if (id == -1 || (id >= 0 && static_cast<size_t>(id) < n)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer ", field, " = ", id, " is outside the vocabulary of ", n, " tokens"));
}

// Checks sizes, ids and types; fills empty scores/types with defaults.
absl::Status ValidateAndFill(Vocab* v) {
  const size_t n = v->tokens.size();
  if (n == 0) return absl::InvalidArgumentError("tokenizer vocabulary has no tokens");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer vocabulary too large: ", n));
  }
  if (v->scores.empty()) v->scores.assign(n, 0.0f);
  if (v->types.empty()) v->types.assign(n, TokenType::kNormal);
  if (v->scores.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.ggml.scores has ", v->scores.size(),
                                                   " entries but there are ", n, " tokens"));
  }
  if (v->types.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.ggml.token_type has ",
                                                   v->types.size(), " entries but there are ", n,
                                                   " tokens"));
  }
  for (size_t i = 0; i < n; ++i) {
    const auto t = static_cast<int32_t>(v->types[i]);
    if (t < 0 || t > static_cast<int32_t>(TokenType::kByte)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token ", i, " has unknown token type ", t, " (expected 0..6)"));
    }
    if (std::isnan(v->scores[i])) {
      return absl::InvalidArgumentError(absl::StrCat("token ", i, " has a NaN score"));
    }
  }
  SURGE_RETURN_IF_ERROR(CheckId("bos_id", v->bos_id, n));
  SURGE_RETURN_IF_ERROR(CheckId("eos_id", v->eos_id, n));
  SURGE_RETURN_IF_ERROR(CheckId("unk_id", v->unk_id, n));
  SURGE_RETURN_IF_ERROR(CheckId("pad_id", v->pad_id, n));
  SURGE_RETURN_IF_ERROR(CheckId("eot_id", v->eot_id, n));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(Vocab vocab) {
  SURGE_RETURN_IF_ERROR(ValidateAndFill(&vocab));
  switch (vocab.kind) {
    case TokenizerKind::kSpm:
      return SpmTokenizer::Create(std::move(vocab));
    case TokenizerKind::kBpe:
      return BpeTokenizer::Create(std::move(vocab));
  }
  return absl::InvalidArgumentError("unknown tokenizer kind");
}

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  const auto n = static_cast<int32_t>(vocab_.tokens.size());
  pieces_.resize(n);
  token_to_id_.reserve(n);
  end_of_generation_.assign(n, false);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& text = vocab_.tokens[id];
    token_to_id_[text] = id;
    const TokenType type = vocab_.types[id];
    const bool special = type == TokenType::kControl || type == TokenType::kUserDefined ||
                         type == TokenType::kUnknown;
    if (special && !text.empty()) specials_.push_back(id);
    if (type != TokenType::kNormal && type != TokenType::kByte) {
      for (std::string_view eog : kEndOfGenerationTexts) {
        if (text == eog) end_of_generation_[id] = true;
      }
    }
  }
  if (vocab_.eos_id >= 0) end_of_generation_[vocab_.eos_id] = true;
  if (vocab_.eot_id >= 0) end_of_generation_[vocab_.eot_id] = true;

  // Group specials by first byte, longest first (ties: lower id), so the
  // scan in SplitOnSpecials takes the longest match at each position.
  std::sort(specials_.begin(), specials_.end(), [this](int32_t a, int32_t b) {
    const std::string& ta = vocab_.tokens[a];
    const std::string& tb = vocab_.tokens[b];
    const auto fa = static_cast<uint8_t>(ta[0]);
    const auto fb = static_cast<uint8_t>(tb[0]);
    if (fa != fb) return fa < fb;
    if (ta.size() != tb.size()) return ta.size() > tb.size();
    return a < b;
  });
  for (uint32_t i = 0; i < specials_.size(); ++i) {
    auto& range = special_range_[static_cast<uint8_t>(vocab_.tokens[specials_[i]][0])];
    if (range.first == range.second) range.first = i;
    range.second = i + 1;
  }
}

std::optional<int32_t> Tokenizer::MatchSpecial(std::string_view rest) const {
  const auto [begin, end] = special_range_[static_cast<uint8_t>(rest[0])];
  for (uint32_t i = begin; i < end; ++i) {
    if (rest.starts_with(vocab_.tokens[specials_[i]])) return specials_[i];
  }
  return std::nullopt;
}

void Tokenizer::SplitOnSpecials(std::string_view text, std::vector<Segment>* out) const {
  size_t plain_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto [begin, end] = special_range_[static_cast<uint8_t>(text[pos])];
    std::optional<int32_t> match;
    if (begin != end) match = MatchSpecial(text.substr(pos));
    if (!match.has_value()) {
      ++pos;
      continue;
    }
    if (pos > plain_start) out->push_back({text.substr(plain_start, pos - plain_start), -1});
    out->push_back({{}, *match});
    pos += vocab_.tokens[*match].size();
    plain_start = pos;
  }
  if (plain_start < text.size()) out->push_back({text.substr(plain_start), -1});
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  if (parse_special && !specials_.empty()) {
    std::vector<Segment> segments;
    SplitOnSpecials(text, &segments);
    bool after_special = true;
    for (const Segment& s : segments) {
      if (s.token >= 0) {
        out.push_back(s.token);
        after_special = true;
      } else {
        EncodeText(s.text, after_special, &out);
        after_special = false;
      }
    }
  } else if (!text.empty()) {
    EncodeText(text, /*after_special=*/true, &out);
  }
  if (add_special && vocab_.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

std::vector<int32_t> Tokenizer::EncodePieces(std::span<const TextPiece> pieces,
                                             bool add_special) const {
  std::vector<int32_t> out;
  if (add_special && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  // Plain text not yet encoded, possibly spanning pieces. Runs end only at
  // special tokens, so each starts the text or follows a special token.
  std::string run;
  auto flush = [&] {
    if (!run.empty()) EncodeText(run, /*after_special=*/true, &out);
    run.clear();
  };
  std::vector<Segment> segments;
  for (const TextPiece& piece : pieces) {
    segments.clear();
    if (piece.parse_special && !specials_.empty()) {
      SplitOnSpecials(piece.text, &segments);
    } else if (!piece.text.empty()) {
      segments.push_back({piece.text, -1});
    }
    for (const Segment& seg : segments) {
      if (seg.token >= 0) {
        flush();
        out.push_back(seg.token);
      } else {
        run.append(seg.text);
      }
    }
  }
  flush();
  if (add_special && vocab_.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

std::string_view Tokenizer::PieceView(int32_t id, bool render_special) const {
  if (id < 0 || id >= vocab_size()) return {};
  if (render_special) {
    const TokenType type = vocab_.types[id];
    if (type == TokenType::kControl || type == TokenType::kUnknown || type == TokenType::kUnused) {
      return vocab_.tokens[id];
    }
  }
  return pieces_[id];
}

std::string Tokenizer::TokenToPiece(int32_t id, bool render_special) const {
  return std::string(PieceView(id, render_special));
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool render_special,
                              bool strip_leading_space) const {
  std::string raw;
  bool strip_pending = strip_leading_space && strips_leading_space();
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string_view piece = PieceView(ids[i], render_special);
    // Same rule in StreamingDecoder::Push: the first token, or the one right
    // after a leading BOS, loses one leading space.
    if (strip_pending && !(i == 0 && ids[i] == vocab_.bos_id)) {
      if (piece.starts_with(' ')) piece.remove_prefix(1);
      strip_pending = false;
    }
    raw.append(piece);
  }
  return SanitizeUtf8(raw);
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return id >= 0 && id < vocab_size() && end_of_generation_[id];
}

std::optional<int32_t> Tokenizer::FindToken(std::string_view text) const {
  const auto it = token_to_id_.find(text);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

}  // namespace surge::engine::model
