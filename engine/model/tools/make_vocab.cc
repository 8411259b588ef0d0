// make_vocab: trains the default 32000-token vocabularies from English text
// and writes engine/model/data/default_bpe_merges.txt and
// default_spm_pieces.txt. Deterministic: the same inputs give the same files.
// See engine/model/data/README.md for the exact command.
//
// Usage: surge_make_vocab --out DIR [--wordlist FILE]... [--eval FILE]... TEXT...
//   TEXT      text files, counted as they are
//   wordlist  one word per line; each counted once as " word"
//   eval      files to report chars/token on, after writing
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/model/bpe_trainer.h"
#include "engine/model/default_vocab.h"
#include "engine/model/tokenizer.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

constexpr int32_t kBpeBaseTokens = kDefaultVocabSize - 3;  // all but the specials
constexpr int32_t kSpmPieces = kDefaultVocabSize - 3 - 256;
constexpr int32_t kTrainTokens = kBpeBaseTokens + 4000;  // headroom for the SPM pieces
constexpr int64_t kMinCharCount = 3;                     // rarer characters stay bytes
constexpr std::string_view kSpace = "\xE2\x96\x81";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "make_vocab: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) {
    std::fprintf(stderr, "make_vocab: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

std::string ByteLevel(std::string_view bytes) {
  std::string out;
  for (char c : bytes) out += ByteToUnicode(static_cast<uint8_t>(c));
  return out;
}

std::string SpmPiece(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    if (c == ' ') {
      out.append(kSpace);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Counts valid UTF-8 characters (space counted as "▁").
void CountChars(std::string_view text, int64_t weight, std::map<std::string, int64_t>* counts) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = DecodeUtf8(text, pos);
    if (c.kind == Utf8Char::Kind::kValid) {
      (*counts)[SpmPiece(text.substr(pos, c.length))] += weight;
    }
    pos += c.length;
  }
}

// The first merges that bring the BPE vocabulary to kBpeBaseTokens tokens.
std::string BpeFile(const std::vector<BpeTrainer::Merge>& merges) {
  absl::flat_hash_set<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.insert(std::string(1, static_cast<char>(b)));
  std::string out;
  for (const BpeTrainer::Merge& m : merges) {
    if (static_cast<int32_t>(tokens.size()) == kBpeBaseTokens) break;
    tokens.insert(m.left + m.right);
    absl::StrAppend(&out, ByteLevel(m.left), " ", ByteLevel(m.right), "\n");
  }
  if (static_cast<int32_t>(tokens.size()) != kBpeBaseTokens) {
    std::fprintf(stderr, "make_vocab: training gave only %zu BPE tokens\n", tokens.size());
    std::exit(1);
  }
  return out;
}

// Printable characters, newline and tab; C0/C1 controls stay byte tokens.
bool IsPieceChar(const std::string& c) {
  const uint32_t cp = DecodeUtf8(c, 0).code_point;
  if (c == "\n" || c == "\t") return true;
  return cp >= 0x20 && !(cp >= 0x7F && cp <= 0x9F);
}

// SPM pieces: merges whose sides are whole characters and already pieces,
// score = -rank, then the single characters (frequent first) below them.
std::string SpmFile(const std::vector<BpeTrainer::Merge>& merges,
                    const std::map<std::string, int64_t>& char_counts) {
  std::vector<std::pair<int64_t, std::string>> chars;
  for (const auto& [c, count] : char_counts) {
    if (count >= kMinCharCount && IsPieceChar(c)) chars.emplace_back(-count, c);
  }
  std::sort(chars.begin(), chars.end());
  absl::flat_hash_set<std::string> known;
  for (const auto& [count, c] : chars) known.insert(c);
  const size_t num_merged = kSpmPieces - chars.size();

  std::string out;
  size_t accepted = 0;
  int64_t last_rank = 0;
  for (size_t rank = 0; rank < merges.size() && accepted < num_merged; ++rank) {
    const BpeTrainer::Merge& m = merges[rank];
    if (!IsValidUtf8(m.left) || !IsValidUtf8(m.right)) continue;
    const std::string left = SpmPiece(m.left), right = SpmPiece(m.right);
    if (!known.contains(left) || !known.contains(right)) continue;
    if (!known.insert(left + right).second) continue;
    absl::StrAppend(&out, -static_cast<int64_t>(rank), "\t", EscapePiece(left + right), "\n");
    ++accepted;
    last_rank = static_cast<int64_t>(rank);
  }
  if (accepted != num_merged) {
    std::fprintf(stderr, "make_vocab: only %zu of %zu SPM pieces; raise kTrainTokens\n", accepted,
                 num_merged);
    std::exit(1);
  }
  for (size_t i = 0; i < chars.size(); ++i) {
    absl::StrAppend(&out, -(last_rank + 1 + static_cast<int64_t>(i)), "\t",
                    EscapePiece(chars[i].second), "\n");
  }
  return out;
}

void Evaluate(const std::string& bpe_text, const std::string& spm_text,
              const std::vector<std::string>& eval_files) {
  auto bpe = Tokenizer::Create(*ParseDefaultBpeVocab(bpe_text));
  auto spm = Tokenizer::Create(*ParseDefaultSpmVocab(spm_text));
  if (!bpe.ok() || !spm.ok()) {
    std::fprintf(stderr, "make_vocab: written vocab does not load: %s %s\n",
                 bpe.status().ToString().c_str(), spm.status().ToString().c_str());
    std::exit(1);
  }
  for (const std::string& path : eval_files) {
    const std::string text = ReadFile(path);
    const size_t n_bpe = (*bpe)->Encode(text, false, false).size();
    const size_t n_spm = (*spm)->Encode(text, false, false).size();
    std::printf("%s: %zu bytes, BPE %.2f chars/token, SPM %.2f chars/token\n", path.c_str(),
                text.size(), static_cast<double>(text.size()) / n_bpe,
                static_cast<double>(text.size()) / n_spm);
  }
}

int Main(int argc, char** argv) {
  std::string out_dir;
  std::vector<std::string> texts, wordlists, evals;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--out" || arg == "--wordlist" || arg == "--eval") && i + 1 < argc) {
      (arg == "--out"        ? out_dir
       : arg == "--wordlist" ? wordlists.emplace_back()
                             : evals.emplace_back()) = argv[++i];
    } else {
      texts.push_back(arg);
    }
  }
  if (out_dir.empty() || texts.empty()) {
    std::fprintf(stderr,
                 "usage: surge_make_vocab --out DIR [--wordlist FILE]... [--eval FILE]... "
                 "TEXT...\n");
    return 2;
  }
  auto trainer = *BpeTrainer::Create("qwen2");
  std::map<std::string, int64_t> char_counts;
  for (const std::string& path : texts) {
    const std::string text = ReadFile(path);
    trainer->AddText(text);
    CountChars(text, 1, &char_counts);
  }
  for (const std::string& path : wordlists) {
    const std::string text = ReadFile(path);
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      const std::string word = absl::StrCat(" ", line);
      trainer->AddText(word);
      CountChars(word, 1, &char_counts);
    }
  }
  std::fprintf(stderr, "make_vocab: %zu distinct words; training...\n",
               trainer->num_distinct_words());
  const std::vector<BpeTrainer::Merge> merges = trainer->Train(kTrainTokens);
  std::fprintf(stderr, "make_vocab: %zu merges\n", merges.size());
  const std::string bpe_text = BpeFile(merges);
  const std::string spm_text = SpmFile(merges, char_counts);
  WriteFile(out_dir + "/default_bpe_merges.txt", bpe_text);
  WriteFile(out_dir + "/default_spm_pieces.txt", spm_text);
  Evaluate(bpe_text, spm_text, evals);
  return 0;
}

}  // namespace
}  // namespace surge::engine::model

int main(int argc, char** argv) { return surge::engine::model::Main(argc, argv); }
