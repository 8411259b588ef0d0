// Round robin, least outstanding requests and power of two choices, and the
// factory that names every policy.
#include <atomic>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "router/policy.h"

namespace surge::router {
namespace {

class RoundRobinPolicy final : public Policy {
 public:
  std::string_view name() const override { return "round-robin"; }
  RouteDecision Pick(std::span<const uint64_t>, std::span<const Candidate> c) override {
    return {next_.fetch_add(1, std::memory_order_relaxed) % c.size(), "round_robin"};
  }

 private:
  std::atomic<uint64_t> next_{0};
};

// The fewest outstanding requests; among equals, the scan starts at a
// rotating offset so ties spread instead of piling on the first name.
class LeastLoadPolicy final : public Policy {
 public:
  std::string_view name() const override { return "least-load"; }
  RouteDecision Pick(std::span<const uint64_t>, std::span<const Candidate> c) override {
    const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % c.size();
    size_t best = start;
    for (size_t k = 1; k < c.size(); ++k) {
      const size_t i = (start + k) % c.size();
      if (c[i].outstanding < c[best].outstanding) best = i;
    }
    return {best, "least_load"};
  }

 private:
  std::atomic<uint64_t> next_{0};
};

// Two candidates drawn at random; the less loaded one wins (the first on a
// tie). Nearly as good as least-load, and it never herds every router onto
// the same momentarily idle replica.
class PowerOfTwoPolicy final : public Policy {
 public:
  explicit PowerOfTwoPolicy(uint64_t seed) : rng_(seed) {}
  std::string_view name() const override { return "p2c"; }
  RouteDecision Pick(std::span<const uint64_t>, std::span<const Candidate> c) override {
    if (c.size() == 1) return {0, "p2c"};
    size_t a, b;
    {
      absl::MutexLock lock(&mu_);
      a = std::uniform_int_distribution<size_t>(0, c.size() - 1)(rng_);
      b = std::uniform_int_distribution<size_t>(0, c.size() - 2)(rng_);
    }
    if (b >= a) ++b;  // b is uniform over the others
    return {c[b].outstanding < c[a].outstanding ? b : a, "p2c"};
  }

 private:
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Policy> MakeRoundRobinPolicy() { return std::make_unique<RoundRobinPolicy>(); }
std::unique_ptr<Policy> MakeLeastLoadPolicy() { return std::make_unique<LeastLoadPolicy>(); }
std::unique_ptr<Policy> MakePowerOfTwoPolicy(uint64_t seed) {
  return std::make_unique<PowerOfTwoPolicy>(seed);
}

absl::StatusOr<std::unique_ptr<Policy>> MakePolicy(std::string_view name,
                                                   const PrefixPolicyOptions& prefix) {
  if (name == "prefix") return MakePrefixPolicy(prefix);
  if (name == "least-load") return MakeLeastLoadPolicy();
  if (name == "p2c") return MakePowerOfTwoPolicy(std::random_device{}());
  if (name == "round-robin") return MakeRoundRobinPolicy();
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown policy '", std::string(name), "' (known: prefix, least-load, p2c, round-robin)"));
}

}  // namespace surge::router
