#include "engine/model/chat_template.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace surge::engine::model {
namespace {

enum class Role { kSystem, kUser, kAssistant, kTool };

struct Turn {
  Role role;
  std::string_view name;  // as rendered: developer becomes "system"
  std::string_view content;
  size_t index;  // position in the caller's messages, for error messages
};

absl::StatusOr<Turn> ToTurn(const ChatMessage& m, size_t index) {
  const std::string_view r = m.role;
  if (r == "system" || r == "developer") return Turn{Role::kSystem, "system", m.content, index};
  if (r == "user") return Turn{Role::kUser, "user", m.content, index};
  if (r == "assistant") return Turn{Role::kAssistant, "assistant", m.content, index};
  if (r == "tool") return Turn{Role::kTool, "tool", m.content, index};
  return absl::InvalidArgumentError(
      absl::StrCat("message ", index, " has unknown role '", std::string(r.substr(0, 32)),
                   "'; expected system, developer, user, assistant or tool"));
}

// Python's str.isspace() for one code point (what .strip() and Jinja's trim
// remove).
bool IsPySpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Decodes the UTF-8 sequence s[pos, pos+len); false if it is not one.
bool Decode(std::string_view s, size_t pos, size_t len, char32_t* out) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (len == 1) {
    *out = b0;
    return b0 < 0x80;
  }
  const uint8_t lead_mask = len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07;
  char32_t c = b0 & lead_mask;
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<uint8_t>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return false;
    c = (c << 6) | (b & 0x3F);
  }
  *out = c;
  return true;
}

size_t SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

std::string_view LStrip(std::string_view s) {
  while (!s.empty()) {
    const size_t len = SequenceLength(static_cast<uint8_t>(s[0]));
    char32_t c;
    if (len == 0 || len > s.size() || !Decode(s, 0, len, &c) || !IsPySpace(c)) break;
    s.remove_prefix(len);
  }
  return s;
}

std::string_view RStrip(std::string_view s) {
  while (!s.empty()) {
    size_t start = s.size() - 1;
    while (start > 0 && s.size() - start < 4 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) {
      --start;
    }
    const size_t len = s.size() - start;
    char32_t c;
    if (SequenceLength(static_cast<uint8_t>(s[start])) != len || !Decode(s, start, len, &c) ||
        !IsPySpace(c)) {
      break;
    }
    s.remove_suffix(len);
  }
  return s;
}

std::string_view Strip(std::string_view s) { return RStrip(LStrip(s)); }

// Collects the pieces of one prompt.
class PieceWriter {
 public:
  void Text(std::string_view text) { Add(text, false); }
  void Content(std::string_view text) { Add(text, true); }
  std::vector<ChatPiece> Take() { return std::move(pieces_); }

 private:
  void Add(std::string_view text, bool is_content) {
    if (text.empty()) return;
    if (!is_content && !pieces_.empty() && !pieces_.back().is_content) {
      pieces_.back().text.append(text);
      return;
    }
    pieces_.push_back(ChatPiece{std::string(text), is_content});
  }

  std::vector<ChatPiece> pieces_;
};

// The conversation as the alternating families see it: an optional system
// text folded into the first user turn, then user/assistant/user/...
struct Alternating {
  std::string_view system;
  bool has_system = false;
  std::vector<Turn> turns;
};

absl::StatusOr<Alternating> CheckAlternating(ChatTemplateKind kind, std::span<const Turn> all) {
  const std::string name(ChatTemplateName(kind));
  Alternating out;
  size_t first = 0;
  if (all[0].role == Role::kSystem) {
    out.system = all[0].content;
    out.has_system = true;
    first = 1;
  }
  for (size_t i = first; i < all.size(); ++i) {
    const Turn& t = all[i];
    if (t.role == Role::kSystem) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ", name,
          " chat template accepts a system message only as the first message; message ", t.index,
          " is a system message"));
    }
    if (t.role == Role::kTool) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ", name, " chat template has no tool role; message ", t.index, " has role 'tool'"));
    }
    const Role expected = (i - first) % 2 == 0 ? Role::kUser : Role::kAssistant;
    if (t.role != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ", name,
          " chat template needs user and assistant messages to alternate, starting with user, "
          "after an optional first system message; message ",
          t.index, " has role '", std::string(t.name), "'"));
    }
    out.turns.push_back(t);
  }
  if (out.turns.empty()) {  // system only: it stands in for the user turn
    out.turns.push_back(Turn{Role::kUser, "user", out.system, all[0].index});
    out.system = {};
    out.has_system = false;
  }
  return out;
}

void RenderChatML(std::span<const Turn> turns, bool gen, PieceWriter& w) {
  for (const Turn& t : turns) {
    w.Text(absl::StrCat("<|im_start|>", std::string(t.name), "\n"));
    w.Content(t.content);
    w.Text("<|im_end|>\n");
  }
  if (gen) w.Text("<|im_start|>assistant\n");
}

void RenderLlama3(std::span<const Turn> turns, bool gen, std::string_view bos, PieceWriter& w) {
  w.Text(bos);
  for (const Turn& t : turns) {
    w.Text(absl::StrCat("<|start_header_id|>", std::string(t.name), "<|end_header_id|>\n\n"));
    w.Content(Strip(t.content));
    w.Text("<|eot_id|>");
  }
  if (gen) w.Text("<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// Phi-3 and Zephyr differ only in the end-of-turn text and in how a prompt
// without a generation prompt ends.
void RenderRoleTagged(std::span<const Turn> turns, bool gen, std::string_view end_of_turn,
                      std::string_view final_text, PieceWriter& w) {
  for (const Turn& t : turns) {
    w.Text(absl::StrCat("<|", std::string(t.name), "|>\n"));
    w.Content(t.content);
    w.Text(end_of_turn);
  }
  if (gen) {
    w.Text("<|assistant|>\n");
  } else {
    w.Text(final_text);
  }
}

// Llama 2: bos[INST] ... [/INST] per user turn; `content.strip()` applies to
// the whole first turn including the <<SYS>> block, so only the user text's
// end is stripped there (and the "\n\n" too when the user text is blank).
void RenderLlama2(const Alternating& c, std::string_view bos, std::string_view eos,
                  PieceWriter& w) {
  for (size_t i = 0; i < c.turns.size(); ++i) {
    const Turn& t = c.turns[i];
    if (t.role == Role::kAssistant) {
      w.Text(" ");
      w.Content(Strip(t.content));
      w.Text(absl::StrCat(" ", std::string(eos)));
      continue;
    }
    w.Text(absl::StrCat(std::string(bos), "[INST] "));
    if (i == 0 && c.has_system) {
      const std::string_view user = RStrip(t.content);
      w.Text("<<SYS>>\n");
      w.Content(c.system);
      w.Text(user.empty() ? "\n<</SYS>>" : "\n<</SYS>>\n\n");
      w.Content(user);
    } else {
      w.Content(Strip(t.content));
    }
    w.Text(" [/INST]");
  }
}

void RenderMistral(const Alternating& c, std::string_view bos, std::string_view eos,
                   PieceWriter& w) {
  w.Text(bos);
  for (size_t i = 0; i < c.turns.size(); ++i) {
    const Turn& t = c.turns[i];
    if (t.role == Role::kAssistant) {
      w.Content(t.content);
      w.Text(eos);
      continue;
    }
    w.Text("[INST] ");
    if (i == 0 && c.has_system) {
      w.Content(c.system);
      w.Text("\n\n");
    }
    w.Content(t.content);
    w.Text(" [/INST]");
  }
}

void RenderGemma(const Alternating& c, bool gen, std::string_view bos, PieceWriter& w) {
  w.Text(bos);
  for (size_t i = 0; i < c.turns.size(); ++i) {
    const Turn& t = c.turns[i];
    w.Text(t.role == Role::kAssistant ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
    if (i == 0 && c.has_system) {
      w.Content(c.system);
      w.Text("\n\n");
    }
    w.Content(Strip(t.content));
    w.Text("<end_of_turn>\n");
  }
  if (gen) w.Text("<start_of_turn>model\n");
}

}  // namespace

std::string_view ChatTemplateName(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::kChatML:
      return "chatml";
    case ChatTemplateKind::kLlama2:
      return "llama2";
    case ChatTemplateKind::kLlama3:
      return "llama3";
    case ChatTemplateKind::kMistral:
      return "mistral";
    case ChatTemplateKind::kGemma:
      return "gemma";
    case ChatTemplateKind::kPhi3:
      return "phi3";
    case ChatTemplateKind::kZephyr:
      return "zephyr";
  }
  return "unknown";
}

std::optional<ChatTemplateKind> ChatTemplateFromName(std::string_view name) {
  for (ChatTemplateKind k :
       {ChatTemplateKind::kChatML, ChatTemplateKind::kLlama2, ChatTemplateKind::kLlama3,
        ChatTemplateKind::kMistral, ChatTemplateKind::kGemma, ChatTemplateKind::kPhi3,
        ChatTemplateKind::kZephyr}) {
    if (name == ChatTemplateName(k)) return k;
  }
  if (name == "qwen") return ChatTemplateKind::kChatML;
  return std::nullopt;
}

std::optional<ChatTemplateKind> DetectChatTemplate(std::string_view src) {
  auto has = [src](std::string_view marker) { return src.find(marker) != src.npos; };
  if (has("<|im_start|>")) {
    // Phi-4 wraps ChatML roles in <|im_sep|>: a different format.
    if (has("<|im_sep|>")) return std::nullopt;
    return ChatTemplateKind::kChatML;
  }
  if (has("<|start_header_id|>")) return ChatTemplateKind::kLlama3;
  if (has("<start_of_turn>")) return ChatTemplateKind::kGemma;
  if (has("<|user|>")) {
    if (has("<|end|>")) return ChatTemplateKind::kPhi3;
    if (has("</s>") || has("eos_token")) return ChatTemplateKind::kZephyr;
    return std::nullopt;
  }
  if (has("[INST]")) {
    return has("<<SYS>>") ? ChatTemplateKind::kLlama2 : ChatTemplateKind::kMistral;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<ChatPiece>> RenderChatPieces(ChatTemplateKind kind,
                                                        std::span<const ChatMessage> messages,
                                                        bool add_generation_prompt,
                                                        std::string_view bos_text,
                                                        std::string_view eos_text) {
  if (messages.empty()) return absl::InvalidArgumentError("the conversation has no messages");
  std::vector<Turn> turns;
  turns.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    SURGE_ASSIGN_OR_RETURN(Turn t, ToTurn(messages[i], i));
    turns.push_back(t);
  }
  const bool gen = add_generation_prompt;
  PieceWriter w;
  switch (kind) {
    case ChatTemplateKind::kChatML:
      RenderChatML(turns, gen, w);
      break;
    case ChatTemplateKind::kLlama3:
      RenderLlama3(turns, gen, bos_text, w);
      break;
    case ChatTemplateKind::kPhi3:
      RenderRoleTagged(turns, gen, "<|end|>\n", eos_text, w);
      break;
    case ChatTemplateKind::kZephyr:
      RenderRoleTagged(turns, gen, absl::StrCat(std::string(eos_text), "\n"), "", w);
      break;
    case ChatTemplateKind::kLlama2:
    case ChatTemplateKind::kMistral:
    case ChatTemplateKind::kGemma: {
      SURGE_ASSIGN_OR_RETURN(const Alternating c, CheckAlternating(kind, turns));
      if (kind == ChatTemplateKind::kLlama2) RenderLlama2(c, bos_text, eos_text, w);
      if (kind == ChatTemplateKind::kMistral) RenderMistral(c, bos_text, eos_text, w);
      if (kind == ChatTemplateKind::kGemma) RenderGemma(c, gen, bos_text, w);
      break;
    }
  }
  return w.Take();
}

absl::StatusOr<std::string> RenderChat(ChatTemplateKind kind, std::span<const ChatMessage> messages,
                                       bool add_generation_prompt, std::string_view bos_text,
                                       std::string_view eos_text) {
  SURGE_ASSIGN_OR_RETURN(
      const std::vector<ChatPiece> pieces,
      RenderChatPieces(kind, messages, add_generation_prompt, bos_text, eos_text));
  std::string out;
  for (const ChatPiece& p : pieces) out += p.text;
  return out;
}

}  // namespace surge::engine::model
