#include "engine/model/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "base/status.h"

namespace surge::engine::model {
namespace {

using PairKey = uint64_t;

PairKey Key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
int32_t Left(PairKey k) { return static_cast<int32_t>(k >> 32); }
int32_t Right(PairKey k) { return static_cast<int32_t>(k & 0xFFFFFFFFu); }

struct HeapEntry {
  int64_t count;
  PairKey key;
};
// Max count first; among equal counts the smaller key.
struct HeapOrder {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    return a.count < b.count || (a.count == b.count && a.key > b.key);
  }
};

struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

// Training state: words as symbol sequences plus the incremental pair index.
class State {
 public:
  explicit State(const absl::flat_hash_map<std::string, int64_t>& word_counts) {
    std::vector<std::pair<std::string_view, int64_t>> sorted(word_counts.begin(),
                                                             word_counts.end());
    std::sort(sorted.begin(), sorted.end());  // index order independent of hashing
    for (int b = 0; b < 256; ++b) AddToken(std::string(1, static_cast<char>(b)));
    words_.reserve(sorted.size());
    for (const auto& [text, count] : sorted) {
      Word w{{}, count};
      for (char c : text) w.symbols.push_back(static_cast<uint8_t>(c));
      const auto index = static_cast<int32_t>(words_.size());
      words_.push_back(std::move(w));
      for (size_t i = 1; i < words_.back().symbols.size(); ++i) {
        const PairKey k = Key(words_.back().symbols[i - 1], words_.back().symbols[i]);
        counts_[k] += count;
        where_[k].push_back(index);
      }
    }
    for (const auto& [k, count] : counts_) heap_.push({count, k});
  }

  // Pops the most frequent live pair; false if none reaches min_count.
  bool NextPair(int64_t min_count, PairKey* key) {
    while (!heap_.empty()) {
      const HeapEntry e = heap_.top();
      heap_.pop();
      const auto it = counts_.find(e.key);
      if (it == counts_.end() || it->second != e.count) continue;  // stale entry
      if (e.count < min_count) return false;
      *key = e.key;
      return true;
    }
    return false;
  }

  // Replaces every occurrence of `key` by one symbol; returns its token id.
  int32_t ApplyMerge(PairKey key) {
    const int32_t a = Left(key), b = Right(key);
    const int32_t merged = AddToken(tokens_[a] + tokens_[b]);
    std::vector<int32_t> holders = std::move(where_[key]);
    where_.erase(key);
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
    absl::flat_hash_set<PairKey> changed;
    for (int32_t w : holders) RewriteWord(w, a, b, merged, &changed);
    for (PairKey k : changed) {
      const auto it = counts_.find(k);
      if (it != counts_.end()) heap_.push({it->second, k});
    }
    return merged;
  }

  const std::string& token(int32_t id) const { return tokens_[id]; }
  int32_t num_tokens() const { return static_cast<int32_t>(tokens_.size()); }

 private:
  int32_t AddToken(std::string bytes) {
    const auto [it, inserted] = token_ids_.try_emplace(bytes, num_tokens());
    if (inserted) tokens_.push_back(std::move(bytes));
    return it->second;
  }

  void RewriteWord(int32_t index, int32_t a, int32_t b, int32_t merged,
                   absl::flat_hash_set<PairKey>* changed) {
    Word& w = words_[index];
    std::vector<int32_t> next;
    next.reserve(w.symbols.size());
    for (size_t i = 0; i < w.symbols.size(); ++i) {
      if (i + 1 < w.symbols.size() && w.symbols[i] == a && w.symbols[i + 1] == b) {
        next.push_back(merged);
        ++i;
      } else {
        next.push_back(w.symbols[i]);
      }
    }
    if (next.size() == w.symbols.size()) return;  // stale holder: pair no longer here
    // Net change of pair counts: old pairs out, new pairs in.
    std::vector<std::pair<PairKey, int64_t>> delta;
    for (size_t i = 1; i < w.symbols.size(); ++i) {
      delta.emplace_back(Key(w.symbols[i - 1], w.symbols[i]), -w.count);
    }
    for (size_t i = 1; i < next.size(); ++i) delta.emplace_back(Key(next[i - 1], next[i]), w.count);
    std::sort(delta.begin(), delta.end());
    for (size_t i = 0; i < delta.size();) {
      const PairKey k = delta[i].first;
      int64_t sum = 0;
      for (; i < delta.size() && delta[i].first == k; ++i) sum += delta[i].second;
      if (sum == 0) continue;
      int64_t& count = counts_[k];
      count += sum;
      if (count <= 0) counts_.erase(k);
      changed->insert(k);
      if (sum > 0) where_[k].push_back(index);
    }
    w.symbols = std::move(next);
  }

  std::vector<Word> words_;
  std::vector<std::string> tokens_;
  absl::flat_hash_map<std::string, int32_t> token_ids_;
  absl::flat_hash_map<PairKey, int64_t> counts_;
  absl::flat_hash_map<PairKey, std::vector<int32_t>> where_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapOrder> heap_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTrainer>> BpeTrainer::Create(std::string_view pre_tokenizer) {
  SURGE_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre, PreTokenizer::Create(pre_tokenizer));
  return std::unique_ptr<BpeTrainer>(new BpeTrainer(std::move(pre)));
}

void BpeTrainer::AddText(std::string_view text, int64_t weight) {
  std::vector<std::string_view> words;
  pre_->Split(text, &words);
  for (std::string_view w : words) AddWord(w, weight);
}

void BpeTrainer::AddWord(std::string_view word, int64_t count) {
  if (word.empty() || count <= 0) return;
  word_counts_[std::string(word)] += count;
}

std::vector<BpeTrainer::Merge> BpeTrainer::Train(int32_t max_tokens, int64_t min_pair_count) const {
  State state(word_counts_);
  std::vector<Merge> merges;
  PairKey key;
  while (state.num_tokens() < max_tokens && state.NextPair(min_pair_count, &key)) {
    merges.push_back({state.token(Left(key)), state.token(Right(key))});
    state.ApplyMerge(key);
  }
  return merges;
}

}  // namespace surge::engine::model
