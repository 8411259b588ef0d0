#include "jobs/train/dataset.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/model/bpe_trainer.h"
#include "engine/model/unicode.h"

namespace surge::jobs::train {
namespace {

using engine::model::TokenType;
using engine::model::Vocab;

constexpr char kPreTokenizer[] = "qwen2";

std::string ByteLevel(const std::string& bytes) {
  std::string out;
  for (char c : bytes) out += engine::model::ByteToUnicode(static_cast<uint8_t>(c));
  return out;
}

}  // namespace

absl::StatusOr<Vocab> TrainVocab(const Corpus& corpus, int32_t vocab_size) {
  if (vocab_size < 258) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab size ", vocab_size, " is below 258 (256 bytes, one merge, eos)"));
  }
  SURGE_ASSIGN_OR_RETURN(auto trainer, engine::model::BpeTrainer::Create(kPreTokenizer));
  for (const std::string& doc : corpus.documents) trainer->AddText(doc);
  const std::vector<engine::model::BpeTrainer::Merge> merges = trainer->Train(vocab_size - 1);

  Vocab v;
  v.kind = engine::model::TokenizerKind::kBpe;
  v.pre = kPreTokenizer;
  v.add_bos = false;
  v.add_eos = false;
  v.add_space_prefix = false;
  absl::flat_hash_set<std::string> known;
  for (int b = 0; b < 256; ++b) {
    v.tokens.emplace_back(engine::model::ByteToUnicode(static_cast<uint8_t>(b)));
    known.insert(v.tokens.back());
  }
  for (const auto& m : merges) {
    const std::string left = ByteLevel(m.left), right = ByteLevel(m.right);
    v.merges.push_back(absl::StrCat(left, " ", right));
    if (known.insert(left + right).second) v.tokens.push_back(left + right);
  }
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  v.tokens.emplace_back(kEndOfText);
  v.types.push_back(TokenType::kControl);
  const auto eos = static_cast<int32_t>(v.tokens.size() - 1);
  v.eos_id = v.bos_id = v.pad_id = eos;
  return v;
}

absl::StatusOr<TokenData> TokenData::Build(const Corpus& corpus,
                                           const engine::model::Tokenizer& tokenizer,
                                           int64_t seq_len, float val_fraction) {
  std::vector<int32_t> stream;
  for (const std::string& doc : corpus.documents) {
    const std::vector<int32_t> ids = tokenizer.Encode(doc, false, false);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(tokenizer.eos_id());
  }
  const int64_t segment = 8 * (seq_len + 1);
  const auto n = static_cast<int64_t>(stream.size());
  const int64_t whole = n / segment;
  // Held-out segments: every `every`-th whole one, starting half-way in.
  int64_t every = 0;
  if (val_fraction > 0.0f) {
    every = std::max<int64_t>(2, std::llround(1.0 / val_fraction));
    if (whole < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("corpus ", corpus.name, " gives ", n, " tokens: too few to hold out ",
                       segment, "-token segments and still train (need ", 2 * segment, ")"));
    }
    every = std::min(every, whole);
  }
  TokenData data;
  for (int64_t s = 0; s * segment < n; ++s) {
    const bool held_out = every > 0 && s < whole && s % every == every / 2;
    std::vector<int32_t>& dst = held_out ? data.val_ : data.train_;
    const int64_t end = std::min(n, (s + 1) * segment);
    dst.insert(dst.end(), stream.begin() + s * segment, stream.begin() + end);
  }
  if (data.num_train_tokens() < seq_len + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "corpus ", corpus.name, " gives ", n, " tokens: too few for one window of ", seq_len + 1));
  }
  return data;
}

void TokenData::Window(const std::vector<int32_t>& tokens, int64_t start, int64_t seq_len,
                       int32_t* inputs, int32_t* targets) {
  std::copy(tokens.begin() + start, tokens.begin() + start + seq_len, inputs);
  std::copy(tokens.begin() + start + 1, tokens.begin() + start + seq_len + 1, targets);
}

void TokenData::SampleBatch(Rng& rng, int64_t batch, int64_t seq_len, std::vector<int32_t>* inputs,
                            std::vector<int32_t>* targets) const {
  inputs->resize(static_cast<size_t>(batch * seq_len));
  targets->resize(inputs->size());
  const auto starts = static_cast<uint64_t>(num_train_tokens() - seq_len);
  for (int64_t b = 0; b < batch; ++b) {
    const auto start = static_cast<int64_t>(rng.Below(starts));
    Window(train_, start, seq_len, inputs->data() + b * seq_len, targets->data() + b * seq_len);
  }
}

void TokenData::ValBatch(int64_t index, int64_t batch, int64_t num_windows, int64_t seq_len,
                         std::vector<int32_t>* inputs, std::vector<int32_t>* targets) const {
  inputs->resize(static_cast<size_t>(batch * seq_len));
  targets->resize(inputs->size());
  const int64_t last_start = num_val_tokens() - seq_len - 1;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t w = (index * batch + b) % num_windows;
    const int64_t start = num_windows == 1 ? 0 : w * last_start / (num_windows - 1);
    Window(val_, start, seq_len, inputs->data() + b * seq_len, targets->data() + b * seq_len);
  }
}

}  // namespace surge::jobs::train
