#include "engine/model/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace surge::engine::model {
namespace {

// GPT-2's pattern (encoder.py).
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3: case-insensitive contractions, letters may take one leading
// non-letter, digits in groups of up to three, newlines kept apart.
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3 but every digit is its own word.
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Family {
  std::string_view name;
  std::string_view pattern;
  bool ignore_merges;
};

// Names as GGUF files carry them (tokenizer.ggml.pre), aliases included.
constexpr Family kFamilies[] = {
    {"default", kGpt2Pattern, false}, {"gpt2", kGpt2Pattern, false},
    {"gpt-2", kGpt2Pattern, false},   {"llama-bpe", kLlama3Pattern, true},
    {"llama3", kLlama3Pattern, true}, {"llama-v3", kLlama3Pattern, true},
    {"qwen2", kQwen2Pattern, false},  {"deepseek-r1-qwen", kQwen2Pattern, false},
};

const Family* FindFamily(std::string_view name) {
  if (name.empty()) name = "default";
  for (const Family& f : kFamilies) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

struct PreTokenizer::Code {
  pcre2_code* re = nullptr;
  ~Code() { pcre2_code_free(re); }
};

std::vector<std::string> PreTokenizer::SupportedNames() {
  std::vector<std::string> names;
  for (const Family& f : kFamilies) names.emplace_back(f.name);
  return names;
}

std::string_view PreTokenizer::PatternFor(std::string_view name) {
  const Family* f = FindFamily(name);
  return f == nullptr ? std::string_view() : f->pattern;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(std::string_view name) {
  const Family* family = FindFamily(name);
  if (family == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported pre-tokenizer \"", std::string(name),
        "\" (tokenizer.ggml.pre); supported: ", absl::StrJoin(SupportedNames(), ", ")));
  }
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* re = pcre2_compile(
      reinterpret_cast<PCRE2_SPTR>(family->pattern.data()), family->pattern.size(),
      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &error_offset, nullptr);
  if (re == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InternalError(absl::StrCat("PCRE2 rejected the ", std::string(family->name),
                                            " pattern at ", error_offset, ": ",
                                            reinterpret_cast<const char*>(message)));
  }
  auto code = std::make_unique<Code>();
  code->re = re;
  // JIT is an optimisation only: without it (unsupported CPU) pcre2_match interprets.
  (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  return std::unique_ptr<PreTokenizer>(new PreTokenizer(code.release(), family->ignore_merges));
}

PreTokenizer::~PreTokenizer() { delete code_; }

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>* words) const {
  if (text.empty()) return;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_->re, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;  // everything before pos has been emitted
  while (pos < text.size()) {
    int rc = pcre2_match(code_->re, subject, text.size(), pos, 0, md, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(code_->re, subject, text.size(), pos, PCRE2_NO_JIT, md, nullptr);
    }
    if (rc < 0) break;  // no further match (or a resource limit): the rest is one word
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md);
    const size_t start = ovector[0];
    size_t end = ovector[1];
    if (start < pos || end < start || end > text.size()) break;        // cannot happen; stay safe
    if (start > pos) words->push_back(text.substr(pos, start - pos));  // unmatchable bytes
    if (end == start) {
      // An empty match cannot advance; take one byte as its own word.
      end = start + 1;
    }
    words->push_back(text.substr(start, end - start));
    pos = end;
  }
  if (pos < text.size()) words->push_back(text.substr(pos));
  pcre2_match_data_free(md);
}

}  // namespace surge::engine::model
