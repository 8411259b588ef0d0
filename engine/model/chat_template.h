// Chat templates turn a conversation into the prompt text a chat model was
// trained on. GGUF files carry the template as Jinja source
// (`tokenizer.chat_template`); instead of running a Jinja engine on untrusted
// code, Surge recognises the common families by their markers and renders
// each with a small hand-written function that produces the same text as the
// family's official template.
//
// Families and what they render (bos/eos are the tokenizer's BOS/EOS text):
//   kChatML   <|im_start|>ROLE\nCONTENT<|im_end|>\n ... [<|im_start|>assistant\n]
//             (no default system prompt, unlike Qwen2/2.5's own templates)
//   kLlama2   bos[INST] <<SYS>>\nSYS\n<</SYS>>\n\nUSER [/INST] ASSISTANT eos bos[INST] ...
//             (contents stripped, as the template's .strip() does)
//   kLlama3   bos<|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|> ...
//             [<|start_header_id|>assistant<|end_header_id|>\n\n] (contents trimmed)
//   kMistral  bos[INST] SYS\n\nUSER [/INST]ASSISTANTeos[INST] USER [/INST]
//             (Mistral-7B-Instruct v0.1/v0.2; system prepended to the first user turn)
//   kGemma    bos<start_of_turn>user\nSYS\n\nUSER<end_of_turn>\n<start_of_turn>model\n...
//             (Gemma 3's system folding; contents trimmed)
//   kPhi3     <|ROLE|>\nCONTENT<|end|>\n ... then <|assistant|>\n, or eos without
//             a generation prompt
//   kZephyr   <|ROLE|>\nCONTENTeos\n ... [<|assistant|>\n]
// Roles: system, developer (rendered as system), user, assistant, tool.
// Llama2, Mistral and Gemma take an optional first system message, then
// strictly alternating user/assistant turns starting with user; other orders,
// a later system message or a tool message are InvalidArgument. A system
// message with no user turn after it stands in for that user turn.
//
// Injection: the server must not let message contents produce control
// tokens. RenderChatPieces() splits the prompt into template text (tokenize
// with parse_special=true) and message contents (tokenize with
// parse_special=false). The rendered text already holds BOS where the family
// puts one, so tokenize without adding BOS/EOS again.
//
// Thread safety: free functions without state; safe from any thread.
// Errors: InvalidArgument with a message naming the template, the message
// index and the role, for conversations the family cannot express.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace surge::engine::model {

enum class ChatTemplateKind { kChatML, kLlama2, kLlama3, kMistral, kGemma, kPhi3, kZephyr };

// "chatml", "llama2", "llama3", "mistral", "gemma", "phi3", "zephyr".
std::string_view ChatTemplateName(ChatTemplateKind kind);

// For `--chat-template NAME`: the names above (also "qwen" for ChatML);
// std::nullopt for anything else.
std::optional<ChatTemplateKind> ChatTemplateFromName(std::string_view name);

// Recognises a GGUF `tokenizer.chat_template` by the markers of its family;
// std::nullopt when none matches (the caller picks a default, usually ChatML).
std::optional<ChatTemplateKind> DetectChatTemplate(std::string_view jinja_source);

struct ChatMessage {
  std::string role;  // system, developer, user, assistant or tool
  std::string content;
};

// One run of the rendered prompt: template text, or (is_content) the text of
// one message as the family renders it (possibly stripped).
struct ChatPiece {
  std::string text;
  bool is_content = false;
};

// The prompt as pieces; concatenating their texts gives RenderChat(). Empty
// pieces are dropped and adjacent template pieces merged.
[[nodiscard]] absl::StatusOr<std::vector<ChatPiece>> RenderChatPieces(
    ChatTemplateKind kind, std::span<const ChatMessage> messages, bool add_generation_prompt,
    std::string_view bos_text, std::string_view eos_text);

[[nodiscard]] absl::StatusOr<std::string> RenderChat(ChatTemplateKind kind,
                                                     std::span<const ChatMessage> messages,
                                                     bool add_generation_prompt,
                                                     std::string_view bos_text,
                                                     std::string_view eos_text);

}  // namespace surge::engine::model
