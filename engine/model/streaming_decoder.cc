// StreamingDecoder (declared in tokenizer.h): turns a stream of token ids
// into text that is always whole UTF-8 characters.
#include "engine/model/tokenizer.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {

StreamingDecoder::StreamingDecoder(const Tokenizer& tok, bool render_special,
                                   bool strip_leading_space)
    : tok_(tok),
      render_special_(render_special),
      strip_pending_(strip_leading_space && tok.strips_leading_space()) {}

std::string StreamingDecoder::Push(int32_t id) {
  std::string piece = tok_.TokenToPiece(id, render_special_);
  // Same rule as Tokenizer::Decode: the first token, or the one right after
  // a leading BOS, loses one leading space.
  if (strip_pending_ && !(num_pushed_ == 0 && id == tok_.bos_id())) {
    if (!piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip_pending_ = false;
  }
  ++num_pushed_;
  held_ += piece;
  std::string out;
  const size_t consumed = AppendSanitizedUtf8(held_, /*final=*/false, &out);
  held_.erase(0, consumed);
  return out;
}

std::string StreamingDecoder::Flush() {
  std::string out;
  AppendSanitizedUtf8(held_, /*final=*/true, &out);
  held_.clear();
  return out;
}

}  // namespace surge::engine::model
