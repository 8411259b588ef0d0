#include "server/chat_prompt.h"

#include <string>

namespace surge::server {

absl::StatusOr<std::vector<int32_t>> EncodeChat(
    const engine::model::Tokenizer& tokenizer, engine::model::ChatTemplateKind kind,
    std::span<const engine::model::ChatMessage> messages, bool add_generation_prompt,
    bool add_special) {
  const auto& vocab = tokenizer.vocab();
  std::string bos, eos;
  if (add_special) {
    if (vocab.add_bos && vocab.bos_id >= 0) bos = vocab.tokens[vocab.bos_id];
    if (vocab.eos_id >= 0) eos = vocab.tokens[vocab.eos_id];
  }
  SURGE_ASSIGN_OR_RETURN(
      std::vector<engine::model::ChatPiece> pieces,
      engine::model::RenderChatPieces(kind, messages, add_generation_prompt, bos, eos));
  std::vector<engine::model::Tokenizer::TextPiece> text;
  text.reserve(pieces.size());
  for (const engine::model::ChatPiece& piece : pieces) {
    text.push_back({piece.text, !piece.is_content});
  }
  return tokenizer.EncodePieces(text, /*add_special=*/false);
}

}  // namespace surge::server
