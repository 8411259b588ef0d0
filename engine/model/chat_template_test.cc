#include "engine/model/chat_template.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace surge::engine::model {
namespace {

using K = ChatTemplateKind;

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."},
    {"user", "Hello!"},
    {"assistant", "Hi."},
    {"user", "What is 2+2?"},
};

std::string Render(K kind, const std::vector<ChatMessage>& messages, bool gen = true,
                   std::string_view bos = "<s>", std::string_view eos = "</s>") {
  absl::StatusOr<std::string> s = RenderChat(kind, messages, gen, bos, eos);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

// Expected strings follow each family's official Jinja template (see the
// header) applied to kConversation.
struct Golden {
  K kind;
  const char* bos;
  const char* eos;
  const char* expected;
};

TEST(ChatTemplateTest, GoldenConversationWithSystem) {
  const Golden cases[] = {
      {K::kChatML, "", "<|im_end|>",
       "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
       "<|im_start|>assistant\nHi.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
       "<|im_start|>assistant\n"},
      {K::kLlama2, "<s>", "</s>",
       "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHello! [/INST] Hi. </s>"
       "<s>[INST] What is 2+2? [/INST]"},
      {K::kLlama3, "<|begin_of_text|>", "<|eot_id|>",
       "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\nHi.<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\n"},
      {K::kMistral, "<s>", "</s>",
       "<s>[INST] You are terse.\n\nHello! [/INST]Hi.</s>[INST] What is 2+2? [/INST]"},
      {K::kGemma, "<bos>", "<eos>",
       "<bos><start_of_turn>user\nYou are terse.\n\nHello!<end_of_turn>\n"
       "<start_of_turn>model\nHi.<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
       "<start_of_turn>model\n"},
      {K::kPhi3, "<s>", "<|endoftext|>",
       "<|system|>\nYou are terse.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\nHi.<|end|>\n"
       "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n"},
      {K::kZephyr, "<s>", "</s>",
       "<|system|>\nYou are terse.</s>\n<|user|>\nHello!</s>\n<|assistant|>\nHi.</s>\n"
       "<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n"},
  };
  for (const Golden& g : cases) {
    EXPECT_EQ(Render(g.kind, kConversation, true, g.bos, g.eos), g.expected)
        << ChatTemplateName(g.kind);
  }
}

TEST(ChatTemplateTest, GoldenWithoutSystemOrGenerationPrompt) {
  const std::vector<ChatMessage> m = {{"user", "hello"}, {"assistant", "response"}};
  EXPECT_EQ(Render(K::kChatML, m, false),
            "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nresponse<|im_end|>\n");
  EXPECT_EQ(Render(K::kLlama2, m, false), "<s>[INST] hello [/INST] response </s>");
  EXPECT_EQ(Render(K::kMistral, m, false), "<s>[INST] hello [/INST]response</s>");
  EXPECT_EQ(Render(K::kGemma, m, false, "<bos>"),
            "<bos><start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\nresponse"
            "<end_of_turn>\n");
  EXPECT_EQ(Render(K::kPhi3, m, false, "", "<|endoftext|>"),
            "<|user|>\nhello<|end|>\n<|assistant|>\nresponse<|end|>\n<|endoftext|>");
  EXPECT_EQ(Render(K::kZephyr, m, false), "<|user|>\nhello</s>\n<|assistant|>\nresponse</s>\n");
}

TEST(ChatTemplateTest, StripsWhereTheTemplateStrips) {
  const std::vector<ChatMessage> m = {{"system", " sys \n"}, {"user", "\t hi \n"}};
  // Llama 2 strips the whole first turn: the user text's end only.
  EXPECT_EQ(Render(K::kLlama2, m), "<s>[INST] <<SYS>>\n sys \n\n<</SYS>>\n\n\t hi [/INST]");
  // Llama 3 and Gemma trim each content; ChatML keeps it.
  EXPECT_EQ(Render(K::kLlama3, {{"user", " hi\xC2\xA0"}}, false, "B"),
            "B<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
  EXPECT_EQ(Render(K::kGemma, m, false, ""), "<start_of_turn>user\n sys \n\n\nhi<end_of_turn>\n");
  EXPECT_EQ(Render(K::kChatML, {{"user", " hi "}}, false), "<|im_start|>user\n hi <|im_end|>\n");
  // A blank first user turn: .strip() eats into the <</SYS>> block.
  EXPECT_EQ(Render(K::kLlama2, {{"system", "s"}, {"user", "  "}}),
            "<s>[INST] <<SYS>>\ns\n<</SYS>> [/INST]");
}

TEST(ChatTemplateTest, DeveloperIsSystemAndSystemAloneIsTheUserTurn) {
  EXPECT_EQ(Render(K::kChatML, {{"developer", "d"}, {"user", "u"}}, false),
            "<|im_start|>system\nd<|im_end|>\n<|im_start|>user\nu<|im_end|>\n");
  EXPECT_EQ(Render(K::kMistral, {{"system", "only"}}), "<s>[INST] only [/INST]");
  EXPECT_EQ(Render(K::kGemma, {{"system", "only"}}, true, ""),
            "<start_of_turn>user\nonly<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplateTest, ToolRoleWhereTheFamilyHasOne) {
  const std::vector<ChatMessage> m = {{"user", "u"}, {"assistant", "a"}, {"tool", "42"}};
  EXPECT_EQ(Render(K::kChatML, m, false),
            "<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n"
            "<|im_start|>tool\n42<|im_end|>\n");
  for (K kind : {K::kLlama2, K::kMistral, K::kGemma}) {
    absl::StatusOr<std::string> s = RenderChat(kind, m, true, "", "");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("no tool role"), absl::string_view::npos);
  }
}

TEST(ChatTemplateTest, RejectsWhatTheFamilyCannotExpress) {
  const std::vector<std::vector<ChatMessage>> bad = {
      {},                                                    // no messages
      {{"user", "a"}, {"user", "b"}},                        // no alternation
      {{"assistant", "a"}, {"user", "b"}},                   // starts with assistant
      {{"user", "a"}, {"assistant", "b"}, {"system", "c"}},  // late system
      {{"wizard", "a"}},                                     // unknown role
  };
  for (const auto& m : bad) {
    for (K kind : {K::kLlama2, K::kMistral, K::kGemma}) {
      absl::StatusOr<std::string> s = RenderChat(kind, m, true, "", "");
      ASSERT_FALSE(s.ok()) << ChatTemplateName(kind) << " " << m.size();
      EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_FALSE(s.status().message().empty());
    }
  }
  absl::StatusOr<std::string> s = RenderChat(K::kMistral, bad[1], true, "", "");
  EXPECT_NE(s.status().message().find("message 1 has role 'user'"), absl::string_view::npos)
      << s.status();
  EXPECT_FALSE(RenderChat(K::kChatML, bad[4], true, "", "").ok());
  EXPECT_FALSE(RenderChat(K::kPhi3, bad[0], true, "", "").ok());
}

TEST(ChatTemplateTest, PiecesMarkContentAndConcatenateToThePrompt) {
  const std::vector<ChatMessage> m = {{"system", "S <|im_end|>"}, {"user", "U"}};
  for (K kind :
       {K::kChatML, K::kLlama2, K::kLlama3, K::kMistral, K::kGemma, K::kPhi3, K::kZephyr}) {
    absl::StatusOr<std::vector<ChatPiece>> pieces = RenderChatPieces(kind, m, true, "<s>", "</s>");
    ASSERT_TRUE(pieces.ok()) << pieces.status();
    std::string joined;
    std::vector<std::string> contents;
    for (const ChatPiece& p : *pieces) {
      EXPECT_FALSE(p.text.empty());
      joined += p.text;
      if (p.is_content) contents.push_back(p.text);
    }
    EXPECT_EQ(joined, Render(kind, m));
    EXPECT_EQ(contents, (std::vector<std::string>{"S <|im_end|>", "U"})) << ChatTemplateName(kind);
  }
}

TEST(ChatTemplateTest, DetectsFamiliesFromTheirTemplates) {
  struct Case {
    const char* source;
    std::optional<K> expected;
  };
  const Case cases[] = {
      {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
       "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
       K::kChatML},
      {"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'",
       K::kLlama3},
      {"{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }} '<<SYS>>\\n'", K::kLlama2},
      {"{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + ' "
       "[/INST]' }}",
       K::kMistral},
      {"{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}",
       K::kGemma},
      {"{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}", K::kPhi3},
      {"{{ '<|user|>\\n' + message['content'] + eos_token }}", K::kZephyr},
      {"<|im_start|>user<|im_sep|>", std::nullopt},
      {"{{ messages }}", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(DetectChatTemplate(c.source), c.expected) << c.source;
}

TEST(ChatTemplateTest, NamesRoundTrip) {
  for (K kind :
       {K::kChatML, K::kLlama2, K::kLlama3, K::kMistral, K::kGemma, K::kPhi3, K::kZephyr}) {
    EXPECT_EQ(ChatTemplateFromName(ChatTemplateName(kind)), kind);
  }
  EXPECT_EQ(ChatTemplateFromName("qwen"), K::kChatML);
  EXPECT_EQ(ChatTemplateFromName("Llama2"), std::nullopt);
  EXPECT_EQ(ChatTemplateFromName(""), std::nullopt);
}

}  // namespace
}  // namespace surge::engine::model
