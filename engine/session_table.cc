#include "engine/session_table.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "engine/session_file.h"

namespace surge::engine {

namespace fs = std::filesystem;

SessionTable::SessionTable(SessionConfig config, kv::KvCacheManager& kv, kv::KvCache& cache,
                           uint64_t model_fingerprint, int32_t n_vocab)
    : config_(std::move(config)),
      kv_(kv),
      cache_(cache),
      fingerprint_(model_fingerprint),
      n_vocab_(n_vocab) {}

int32_t SessionTable::max_pinned_blocks() const {
  return static_cast<int32_t>(config_.max_pool_fraction * kv_.num_blocks());
}

void SessionTable::Update(uint64_t salt, const std::string& id, base::SequenceId seq,
                          std::span<const int32_t> tokens, base::TimePoint now) {
  const Key key{salt, id};
  Session& s = sessions_[key];
  // Pin the new blocks before releasing the old ones: they mostly overlap.
  kv::PinnedPrefix pin = kv_.Pin(seq, tokens, config_.max_tokens);
  const kv::PinnedPrefix old = std::move(s.pin);
  num_pinned_blocks_ +=
      static_cast<int32_t>(pin.blocks.size()) - static_cast<int32_t>(old.blocks.size());
  WipeBlocks(cache_, kv_.Unpin(old, /*scrub=*/true));
  s.salt = salt;
  s.id = id;
  s.pin = std::move(pin);
  s.last_used = now;
  s.dirty = true;
  EnforceBudget(key);
}

void SessionTable::Preload(base::SequenceId seq, std::span<const int32_t> tokens) {
  const Key key{0, absl::StrFormat("\x01preload-%d", num_preloaded_++)};
  Session& s = sessions_[key];
  s.pin = kv_.Pin(seq, tokens, static_cast<int64_t>(tokens.size()));
  s.permanent = true;
  num_pinned_blocks_ += static_cast<int32_t>(s.pin.blocks.size());
}

void SessionTable::Drop(const Key& key) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  num_pinned_blocks_ -= static_cast<int32_t>(it->second.pin.blocks.size());
  WipeBlocks(cache_, kv_.Unpin(it->second.pin, /*scrub=*/true));
  if (!config_.dir.empty()) {
    std::error_code ec;
    fs::remove(PathOf(key), ec);
  }
  sessions_.erase(it);
}

// Over the pinned-block budget: drop least recently used sessions (never
// `keep`, the one just updated, nor preloaded prompts).
void SessionTable::EnforceBudget(const Key& keep) {
  while (num_pinned_blocks_ > max_pinned_blocks()) {
    const Key* victim = nullptr;
    base::TimePoint oldest = base::TimePoint::max();
    for (const auto& [k, s] : sessions_) {
      if (s.permanent || k == keep || s.last_used >= oldest) continue;
      oldest = s.last_used;
      victim = &k;
    }
    if (victim == nullptr) {
      // The session alone is over budget: keep it, pinned as far as allowed.
      Session& s = sessions_.at(keep);
      const size_t excess = static_cast<size_t>(num_pinned_blocks_ - max_pinned_blocks());
      const size_t keep_blocks = s.pin.blocks.size() - std::min(excess, s.pin.blocks.size());
      kv::PinnedPrefix tail;
      tail.salt = s.pin.salt;
      tail.blocks.assign(s.pin.blocks.begin() + static_cast<ptrdiff_t>(keep_blocks),
                         s.pin.blocks.end());
      WipeBlocks(cache_, kv_.Unpin(tail, /*scrub=*/false));
      s.pin.blocks.resize(keep_blocks);
      s.pin.tokens.resize(keep_blocks * static_cast<size_t>(kv_.block_size()));
      num_pinned_blocks_ -= static_cast<int32_t>(tail.blocks.size());
      return;
    }
    const Key copy = *victim;
    Drop(copy);
  }
}

void SessionTable::Expire(base::TimePoint now) {
  std::vector<Key> expired;
  for (const auto& [k, s] : sessions_) {
    if (!s.permanent && now - s.last_used > config_.ttl) expired.push_back(k);
  }
  for (const Key& k : expired) {
    Drop(k);
    ++num_expired_;
  }
}

std::string SessionTable::PathOf(const Key& key) const {
  std::string name = absl::StrFormat("%016x", key.salt) + key.id;
  return absl::StrFormat("%s/%016x.session", config_.dir, XXH3_64bits(name.data(), name.size()));
}

void SessionTable::SaveDirty() {
  if (config_.dir.empty()) return;
  std::error_code ec;
  fs::create_directories(config_.dir, ec);
  for (auto& [k, s] : sessions_) {
    if (!s.dirty || s.permanent) continue;
    SessionRecord r{s.salt, s.id, s.pin.tokens, ReadBlocks(cache_, s.pin.blocks)};
    const std::string path = PathOf(k);
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << SerializeSession(r, fingerprint_, cache_.shape());
      if (!out.good()) {
        SURGE_LOG_ERROR("session: cannot write {}", tmp);
        continue;
      }
    }
    fs::rename(tmp, path, ec);
    if (ec) {
      SURGE_LOG_ERROR("session: cannot rename {}: {}", tmp, ec.message());
      continue;
    }
    s.dirty = false;
  }
}

void SessionTable::LoadAll(base::TimePoint now) {
  if (config_.dir.empty()) return;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(config_.dir, ec)) {
    if (e.path().extension() != ".session") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    absl::StatusOr<SessionRecord> r =
        ParseSession(buf.str(), fingerprint_, cache_.shape(), n_vocab_);
    if (!r.ok()) {
      SURGE_LOG_ERROR("session file {} rejected: {}", e.path().string(),
                      std::string(r.status().message()));
      continue;
    }
    const int32_t n = static_cast<int32_t>(r->tokens.size() / kv_.block_size());
    if (num_pinned_blocks_ + n > max_pinned_blocks()) {
      SURGE_LOG_WARN("session file {} skipped: over the session block budget", e.path().string());
      continue;
    }
    std::optional<std::vector<int32_t>> blocks = kv_.NewPinnedBlocks(n);
    if (!blocks) continue;
    WriteBlocks(cache_, *blocks, r->kv);
    Session& s = sessions_[Key{r->salt, r->id}];
    s.salt = r->salt;
    s.id = r->id;
    s.pin = {*blocks, std::move(r->tokens), r->salt};
    s.last_used = now;
    kv_.CachePinned(s.pin);
    num_pinned_blocks_ += n;
    ++num_restored_;
  }
}

SessionStats SessionTable::stats() const {
  return {static_cast<int32_t>(sessions_.size()), num_pinned_blocks_, num_expired_, num_restored_};
}

}  // namespace surge::engine
