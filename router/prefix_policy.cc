// Prefix affinity: send a request where its prompt's prefix was sent before
// (so the replica's prefix cache probably holds it), unless that replica is
// carrying clearly more than its share of the load.
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <tuple>

#include "router/policy.h"
#include "router/prefix_index.h"

namespace surge::router {
namespace {

// Rendezvous (highest random weight) score of a replica for a prefix: every
// router with the same replicas places a new prefix on the same one.
uint64_t RendezvousScore(uint64_t prefix_root, std::string_view replica) {
  return XXH3_64bits_withSeed(replica.data(), replica.size(), prefix_root);
}

class PrefixPolicy final : public Policy {
 public:
  explicit PrefixPolicy(PrefixPolicyOptions options)
      : options_(options), index_(options.blocks_per_replica) {}

  std::string_view name() const override { return "prefix"; }

  RouteDecision Pick(std::span<const uint64_t> chain, std::span<const Candidate> c) override {
    if (chain.empty()) return LeastLoaded(c);
    double total = 0;
    for (const Candidate& x : c) total += static_cast<double>(x.outstanding);
    const double limit =
        (1.0 + options_.load_factor) * total / static_cast<double>(c.size()) + options_.load_slack;
    const std::vector<size_t> match = index_.MatchLengths(c, chain);
    // Best: longest match; among equal matches > 0 the less loaded; then the
    // rendezvous score. The least loaded candidate is always within the
    // limit (it is at most the mean), so `best` is always set.
    size_t best = c.size();
    std::tuple<size_t, int64_t, uint64_t> best_key{};
    size_t longest_skipped = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      if (static_cast<double>(c[i].outstanding) > limit) {
        longest_skipped = std::max(longest_skipped, match[i]);
        continue;
      }
      const int64_t load_rank = match[i] > 0 ? -c[i].outstanding : 0;
      std::tuple<size_t, int64_t, uint64_t> key{match[i], load_rank,
                                                RendezvousScore(chain[0], c[i].name)};
      if (best == c.size() || key > best_key) {
        best = i;
        best_key = key;
      }
    }
    if (best == c.size()) return LeastLoaded(c);  // unreachable; keeps Pick total
    std::string_view reason = "prefix_new";
    if (longest_skipped > match[best]) {
      reason = "prefix_spill";
    } else if (match[best] > 0) {
      reason = "prefix_hit";
    }
    return {best, reason};
  }

  void OnRouted(std::span<const uint64_t> chain, std::string_view replica) override {
    index_.Record(replica, chain);
  }
  void Forget(std::string_view replica) override { index_.Forget(replica); }

 private:
  // For prompts shorter than a block: the least loaded, ties rotating.
  RouteDecision LeastLoaded(std::span<const Candidate> c) {
    const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % c.size();
    size_t best = start;
    for (size_t k = 1; k < c.size(); ++k) {
      const size_t i = (start + k) % c.size();
      if (c[i].outstanding < c[best].outstanding) best = i;
    }
    return {best, "no_prefix"};
  }

  const PrefixPolicyOptions options_;
  PrefixIndex index_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace

std::unique_ptr<Policy> MakePrefixPolicy(PrefixPolicyOptions options) {
  return std::make_unique<PrefixPolicy>(options);
}

}  // namespace surge::router
