#include "engine/runner/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace surge::engine::runner {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kMaxFloat = std::numeric_limits<float>::max();
// Temperatures below this sample greedily (as vLLM does): 1/T would overflow
// the scaled logits long before it changed the outcome.
constexpr float kMinTemperature = 1e-5f;

constexpr int kLanes = 8;           // fixed summation order, and SIMD friendly
constexpr size_t kChunk = 256;      // unit of the vectorized passes; 32 terms per float lane
constexpr int kBucketsPerNat = 32;  // DrawTopP: histogram of log-weights, 1/32 nat wide,
constexpr int kNumBuckets = 32 * kBucketsPerNat;  // covering weights down to e^-32

// The vectorized passes are compiled for AVX-512, AVX2 and baseline x86-64
// and picked at load time. The results are bitwise the same on every path:
// -ffp-contract=off keeps each lane's arithmetic identical, wider vectors only
// run more lanes at once. The sanitizer build keeps only the baseline path, so
// CI runs the golden tests on both it and the wide path of the test machine.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define SURGE_SAMPLER_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SURGE_SAMPLER_CLONES
#endif

// e^x for x <= 0, to ~1 ulp (Cephes' expf polynomial). Ours rather than libm's
// so results are the same on every machine; branch-free so loops vectorize.
// Results that would be subnormal (x below about -87) are 0, exactly, which
// also makes -inf logits weigh 0.
inline float Exp(float x) {
  const float clamped = x < -100.0f ? -100.0f : x;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float shifted = clamped * 1.44269504088896341f + kRound;
  const float n = shifted - kRound;  // round(x / ln 2)
  float r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;  // x - n ln 2 in two steps (ln 2 split for precision)
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // The low bits of `shifted` hold n; build 2^n from them (0 when subnormal).
  const uint32_t biased = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kRound) + 127u;
  const uint32_t exponent = static_cast<int32_t>(biased) < 2 ? 0u : biased;
  return p * std::bit_cast<float>(exponent << 23);
}

// Unnormalised probability of a logit at temperature 1/scale; weights below
// `min_weight` (min-p) count as 0.
inline float Weight(float logit, float max, float scale, float min_weight) {
  const float w = Exp((logit - max) * scale);
  return w >= min_weight ? w : 0.0f;
}

// Sum of Weight() over at most kChunk logits: 8 float lanes (each at most 32
// terms, so float is accurate enough), added in a fixed order.
SURGE_SAMPLER_CLONES double SumWeights(const float* logits, size_t len, float max, float scale,
                                       float min_weight) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= len; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) acc[j] += Weight(logits[i + j], max, scale, min_weight);
  }
  for (int j = 0; i < len; ++i, ++j) acc[j] += Weight(logits[i], max, scale, min_weight);
  double sum = 0.0;
  for (float lane : acc) sum += lane;
  return sum;
}

// NaN -> -inf, +inf -> the largest float, over at most kChunk logits; returns their max.
SURGE_SAMPLER_CLONES float CleanChunk(float* logits, size_t len) {
  float lane_max[kLanes];
  std::fill(std::begin(lane_max), std::end(lane_max), -kInf);
  const auto clean = [](float x) {
    x = x != x ? -kInf : x;
    return x > kMaxFloat ? kMaxFloat : x;
  };
  size_t i = 0;
  for (; i + kLanes <= len; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float x = clean(logits[i + j]);
      logits[i + j] = x;
      lane_max[j] = x > lane_max[j] ? x : lane_max[j];
    }
  }
  for (int j = 0; i < len; ++i, ++j) {
    logits[i] = clean(logits[i]);
    lane_max[j] = logits[i] > lane_max[j] ? logits[i] : lane_max[j];
  }
  return *std::max_element(std::begin(lane_max), std::end(lane_max));
}

// Histogram bucket of a scaled log-weight x <= 0: 0 holds the most likely tokens.
inline int32_t Bucket(float x) {
  const float y = x * -static_cast<float>(kBucketsPerNat);
  return y < static_cast<float>(kNumBuckets - 1) ? static_cast<int32_t>(y) : kNumBuckets - 1;
}

// Weight() (without min-p) of at most kChunk logits.
SURGE_SAMPLER_CLONES void Weights(const float* __restrict logits, size_t len, float max,
                                  float scale, float* __restrict weights) {
  size_t i = 0;
  for (; i + kLanes <= len; i += kLanes) {
    for (size_t j = i; j < i + kLanes; ++j) weights[j] = Exp((logits[j] - max) * scale);
  }
  for (; i < len; ++i) weights[i] = Exp((logits[i] - max) * scale);
}

// Bucket() of at most kChunk logits.
SURGE_SAMPLER_CLONES void Buckets(const float* __restrict logits, size_t len, float max,
                                  float scale, int32_t* __restrict buckets) {
  size_t i = 0;
  for (; i + kLanes <= len; i += kLanes) {
    for (size_t j = i; j < i + kLanes; ++j) buckets[j] = Bucket((logits[j] - max) * scale);
  }
  for (; i < len; ++i) buckets[i] = Bucket((logits[i] - max) * scale);
}

struct RowStats {
  float max;
  int32_t argmax;  // lowest id among ties
  double log_z;    // log sum exp(logit - max)
};

// One pass over the row: cleans NaN/inf, finds the argmax and the softmax
// normaliser, a chunk at a time while the chunk is in L1, so greedy reads the
// logits once. Leaves each chunk's max and sum of exp(logit - chunk max) in
// `chunk_max` / `chunk_sum` for DrawAll().
RowStats ScanRow(std::span<float> logits, std::vector<float>* chunk_max,
                 std::vector<double>* chunk_sum) {
  const size_t n = logits.size();
  chunk_max->clear();
  chunk_sum->clear();
  float max = -kInf;
  size_t argmax = 0;
  double sum = 0.0;  // relative to `max`
  for (size_t begin = 0; begin < n; begin += kChunk) {
    float* chunk = logits.data() + begin;
    const size_t len = std::min(kChunk, n - begin);
    const float cmax = CleanChunk(chunk, len);
    const double csum = cmax == -kInf ? 0.0 : SumWeights(chunk, len, cmax, 1.0f, 0.0f);
    chunk_max->push_back(cmax);
    chunk_sum->push_back(csum);
    if (cmax > max) {
      sum = sum * Exp(max - cmax) + csum;
      max = cmax;
      argmax = begin + static_cast<size_t>(std::find(chunk, chunk + len, cmax) - chunk);
    } else {
      sum += csum * Exp(cmax - max);
    }
  }
  if (max == -kInf) {  // nothing finite: uniform
    std::fill(logits.begin(), logits.end(), 0.0f);
    return ScanRow(logits, chunk_max, chunk_sum);
  }
  return {max, static_cast<int32_t>(argmax), std::log(sum)};
}

// The order candidates are ranked in; total, so every sort is deterministic.
template <typename C>
bool Better(const C& a, const C& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

// The k best logits (k >= 1), sorted by Better(). One pass with a buffer of
// 2k that is cut back to k with nth_element when full; afterwards only logits
// above the k-th best enter (ties lose: later tokens have larger ids).
template <typename C>
void SelectTop(std::span<const float> logits, size_t k, std::vector<C>* out) {
  out->clear();
  const size_t capacity = std::min(2 * k, logits.size());
  out->reserve(capacity);
  const auto better = [](const C& a, const C& b) { return Better(a, b); };
  const auto cut = [&] {
    std::nth_element(out->begin(), out->begin() + static_cast<ptrdiff_t>(k - 1), out->end(),
                     better);
    out->resize(k);
  };
  bool full = false;
  float threshold = -kInf;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (full && !(logits[i] > threshold)) continue;
    out->push_back({logits[i], static_cast<int32_t>(i), 0.0f});
    if (out->size() == capacity) {
      cut();
      full = true;
      threshold = (*out)[k - 1].logit;
    }
  }
  if (out->size() > k) cut();
  std::sort(out->begin(), out->end(), better);
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Checks lo <= value <= hi (lo < value if lo_open); NaN and infinities fail.
absl::Status CheckRange(const char* name, float value, float lo, float hi, bool lo_open,
                        const char* note = "") {
  if (std::isfinite(value) && (lo_open ? value > lo : value >= lo) && value <= hi) {
    return absl::OkStatus();
  }
  const std::string range = hi == kMaxFloat
                                ? absl::StrCat(lo_open ? "> " : ">= ", lo)
                                : absl::StrCat("in ", lo_open ? "(" : "[", lo, ", ", hi, "]");
  return absl::InvalidArgumentError(
      absl::StrCat(name, " must be a finite number ", range, note, ", got ", value));
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& p) {
  for (absl::Status status : {
           CheckRange("temperature", p.temperature, 0.0f, 2.0f, false, " (0 = greedy)"),
           CheckRange("top_p", p.top_p, 0.0f, 1.0f, true),
           CheckRange("min_p", p.min_p, 0.0f, 1.0f, false),
           CheckRange("repetition_penalty", p.repetition_penalty, 0.0f, kMaxFloat, true),
           CheckRange("frequency_penalty", p.frequency_penalty, -2.0f, 2.0f, false),
           CheckRange("presence_penalty", p.presence_penalty, -2.0f, 2.0f, false),
       }) {
    if (!status.ok()) return status;
  }
  if (p.top_k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be >= 0 (0 = no top-k), got ", p.top_k));
  }
  if (p.penalty_last_n < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("penalty_last_n must be >= -1 (-1 = all tokens), got ", p.penalty_last_n));
  }
  if (p.top_logprobs < 0 || p.top_logprobs > kMaxTopLogprobs) {
    return absl::InvalidArgumentError(absl::StrCat("top_logprobs must be an integer in [0, ",
                                                   kMaxTopLogprobs, "], got ", p.top_logprobs));
  }
  return absl::OkStatus();
}

Sampler::Sampler(const SamplingParams& params)
    : params_(params),
      greedy_(!(params.temperature >= kMinTemperature)),                       // NaN -> greedy
      min_weight_(params.min_p > 0.0f ? std::min(params.min_p, 1.0f) : 0.0f),  // NaN -> off
      penalties_on_(params.penalty_last_n != 0 &&
                    (params.repetition_penalty != 1.0f || params.frequency_penalty != 0.0f ||
                     params.presence_penalty != 0.0f)) {
  SURGE_DCHECK(ValidateSamplingParams(params).ok());
  uint64_t state = params.seed;
  for (uint64_t& word : rng_) word = SplitMix64(state);
}

void Sampler::Accept(int32_t token) {
  if (!penalties_on_) return;
  ++counts_[token];
  if (params_.penalty_last_n < 0) return;  // unbounded: counts are all we need
  const size_t window = static_cast<size_t>(params_.penalty_last_n);
  if (window_.size() < window) {
    window_.push_back(token);
    return;
  }
  const int32_t evicted = window_[window_head_];
  window_[window_head_] = token;
  window_head_ = (window_head_ + 1) % window;
  const auto it = counts_.find(evicted);
  SURGE_DCHECK(it != counts_.end());
  if (--it->second == 0) counts_.erase(it);
}

void Sampler::ApplyPenalties(std::span<float> logits) const {
  const float repetition = params_.repetition_penalty;
  for (const auto& [token, count] : counts_) {
    if (token < 0 || static_cast<size_t>(token) >= logits.size()) continue;
    float x = logits[static_cast<size_t>(token)];
    if (repetition != 1.0f) x = x > 0.0f ? x / repetition : x * repetition;
    x -= static_cast<float>(count) * params_.frequency_penalty;
    x -= params_.presence_penalty;  // count > 0 for every entry
    logits[static_cast<size_t>(token)] = x;
  }
}

// xoshiro256** (Blackman & Vigna); the top 24 bits make a float in [0, 1).
float Sampler::NextUniform() {
  const uint64_t result = std::rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = std::rotl(rng_[3], 45);
  return static_cast<float>(result >> 40) * 0x1.0p-24f;
}

SampleResult Sampler::Sample(std::span<float> logits) {
  SURGE_CHECK(!logits.empty());
  SURGE_CHECK(logits.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  if (penalties_on_) ApplyPenalties(logits);
  const RowStats stats = ScanRow(logits, &chunk_max_, &chunk_sum_);
  const int32_t token = greedy_ ? stats.argmax : Draw(logits, stats.max, NextUniform());
  const auto logprob = [&](float logit) {
    return static_cast<float>(static_cast<double>(logit) - stats.max - stats.log_z);
  };
  SampleResult result{token, logprob(logits[static_cast<size_t>(token)]), {}};
  const size_t num_top = std::min(
      logits.size(), static_cast<size_t>(std::clamp(params_.top_logprobs, 0, kMaxTopLogprobs)));
  if (num_top > 0) {
    SelectTop(logits, num_top, &top_);
    result.top.reserve(num_top);
    for (const Candidate& c : top_) result.top.push_back({c.token, logprob(c.logit)});
  }
  Accept(token);
  return result;
}

int32_t Sampler::Draw(std::span<const float> logits, float max, float u) {
  const float scale = 1.0f / params_.temperature;
  const size_t k = params_.top_k > 0 ? static_cast<size_t>(params_.top_k) : logits.size();
  if (k < logits.size()) return DrawTopK(logits, max, k, scale, u);
  if (params_.top_p < 1.0f) return DrawTopP(logits, max, scale, u);
  return DrawAll(logits, max, scale, u);
}

// Fills sums_ with the weight of each chunk of the row and returns their sum.
// At temperature 1 without min-p the chunk sums come from ScanRow(), so this
// costs no pass over the row.
double Sampler::ChunkWeights(std::span<const float> logits, float max, float scale,
                             float min_weight) {
  const bool reuse = scale == 1.0f && min_weight == 0.0f;
  sums_.resize(chunk_sum_.size());
  double total = 0.0;
  for (size_t c = 0; c < sums_.size(); ++c) {
    const size_t begin = c * kChunk;
    sums_[c] = reuse ? chunk_sum_[c] * Exp(chunk_max_[c] - max)
                     : SumWeights(logits.data() + begin, std::min(kChunk, logits.size() - begin),
                                  max, scale, min_weight);
    total += sums_[c];
  }
  return total;
}

// No top-k or top-p: draws straight from the row, without a vocabulary-sized
// buffer: finds the chunk holding the draw, then walks that chunk only.
int32_t Sampler::DrawAll(std::span<const float> logits, float max, float scale, float u) {
  const size_t n = logits.size();
  const double target = u * ChunkWeights(logits, max, scale, min_weight_);
  double cum = 0.0;
  for (size_t c = 0; c < sums_.size(); ++c) {
    if (!(cum + sums_[c] > target)) {
      cum += sums_[c];
      continue;
    }
    // The walk sums in another order than sums_[c]; if rounding leaves it
    // short of the target, the chunk's last possible token is the pick.
    size_t last = n;
    for (size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) {
      const float w = Weight(logits[i], max, scale, min_weight_);
      if (w <= 0.0f) continue;
      last = i;
      cum += w;
      if (cum > target) break;
    }
    if (last < n) return static_cast<int32_t>(last);
  }
  SURGE_CHECK_MSG(false, "no token with positive weight");  // the max always weighs 1
}

// Top-k (then top-p, min-p) over the k best candidates.
int32_t Sampler::DrawTopK(std::span<const float> logits, float max, size_t k, float scale,
                          float u) {
  SelectTop(logits, k, &candidates_);
  double total = 0.0;
  for (Candidate& c : candidates_) {
    c.weight = Weight(c.logit, max, scale, 0.0f);
    total += c.weight;
  }
  size_t keep = candidates_.size();
  if (params_.top_p < 1.0f) {
    const double target = static_cast<double>(params_.top_p) * total;
    double cum = 0.0;
    for (size_t j = 0; j < candidates_.size(); ++j) {
      cum += candidates_[j].weight;
      if (cum >= target) {
        keep = j + 1;
        break;
      }
    }
  }
  return DrawFromList(std::span(candidates_).first(keep), u);
}

// Top-p (then min-p) without top-k. The nucleus is usually small, so first
// try the kNucleusGuess best tokens (one compare pass); only if they hold
// less than top_p of the mass fall back to NucleusByHistogram().
int32_t Sampler::DrawTopP(std::span<const float> logits, float max, float scale, float u) {
  constexpr size_t kNucleusGuess = 64;
  const double target = static_cast<double>(params_.top_p) * ChunkWeights(logits, max, scale, 0.0f);
  SelectTop(logits, std::min(kNucleusGuess, logits.size()), &candidates_);
  double cum = 0.0;
  for (size_t j = 0; j < candidates_.size(); ++j) {
    candidates_[j].weight = Weight(candidates_[j].logit, max, scale, 0.0f);
    cum += candidates_[j].weight;
    if (cum >= target) return DrawFromList(std::span(candidates_).first(j + 1), u);
  }
  NucleusByHistogram(logits, max, scale, target);
  return DrawFromList(candidates_, u);
}

// Leaves in candidates_ the smallest set of best tokens whose weights sum to
// `target`, without sorting the vocabulary: a histogram of log-weights finds
// the bucket where the cumulative weight crosses the target. Tokens in better
// buckets are all kept (unsorted); only the crossing bucket is sorted.
void Sampler::NucleusByHistogram(std::span<const float> logits, float max, float scale,
                                 double target) {
  float weights[kChunk];
  int32_t buckets[kChunk];
  sums_.assign(kNumBuckets, 0.0);
  for (size_t begin = 0; begin < logits.size(); begin += kChunk) {
    const size_t len = std::min(kChunk, logits.size() - begin);
    Weights(logits.data() + begin, len, max, scale, weights);
    Buckets(logits.data() + begin, len, max, scale, buckets);
    for (size_t j = 0; j < len; ++j) sums_[static_cast<size_t>(buckets[j])] += weights[j];
  }
  int32_t crossing = kNumBuckets - 1;
  double cum = 0.0;  // weight of the buckets before `crossing`
  for (int32_t b = 0; b < kNumBuckets; ++b) {
    if (cum + sums_[static_cast<size_t>(b)] >= target) {
      crossing = b;
      break;
    }
    cum += sums_[static_cast<size_t>(b)];
  }
  CollectBuckets(logits, max, scale, crossing);
  const auto better = [](const Candidate& a, const Candidate& b) { return Better(a, b); };
  if (!std::is_sorted(crossing_.begin(), crossing_.end(), better)) {  // e.g. all logits equal
    std::sort(crossing_.begin(), crossing_.end(), better);
  }
  for (const Candidate& c : crossing_) {
    candidates_.push_back(c);
    cum += c.weight;
    if (cum >= target) break;
  }
}

// Tokens in buckets before `crossing` -> candidates_, in it -> crossing_.
// Weighs only the tokens it keeps.
void Sampler::CollectBuckets(std::span<const float> logits, float max, float scale,
                             int32_t crossing) {
  candidates_.clear();
  crossing_.clear();
  float kept_logits[kChunk];
  int32_t kept_tokens[kChunk];
  int32_t buckets[kChunk];
  float weights[kChunk];
  for (size_t begin = 0; begin < logits.size(); begin += kChunk) {
    const size_t len = std::min(kChunk, logits.size() - begin);
    Buckets(logits.data() + begin, len, max, scale, buckets);
    size_t num_kept = 0;  // branch-free: keep or drop is a coin flip when the nucleus is large
    for (size_t j = 0; j < len; ++j) {
      kept_logits[num_kept] = logits[begin + j];
      kept_tokens[num_kept] = static_cast<int32_t>(begin + j);
      buckets[num_kept] = buckets[j];
      num_kept += buckets[j] <= crossing ? 1 : 0;
    }
    Weights(kept_logits, num_kept, max, scale, weights);
    for (size_t j = 0; j < num_kept; ++j) {
      const Candidate c{kept_logits[j], kept_tokens[j], weights[j]};
      (buckets[j] < crossing ? candidates_ : crossing_).push_back(c);
    }
  }
}

// Applies min-p to `list` (weights already set), renormalises and draws.
int32_t Sampler::DrawFromList(std::span<const Candidate> list, float u) const {
  SURGE_CHECK(!list.empty());
  const auto weight = [&](const Candidate& c) { return c.weight >= min_weight_ ? c.weight : 0.0f; };
  double total = 0.0;
  for (const Candidate& c : list) total += weight(c);
  const double target = u * total;
  double cum = 0.0;
  for (const Candidate& c : list) {
    const float w = weight(c);
    if (w <= 0.0f) continue;
    cum += w;
    if (cum > target) return c.token;  // same order as `total`: reached before the end
  }
  SURGE_CHECK_MSG(false, "no token with positive weight");  // the max always weighs 1
}

}  // namespace surge::engine::runner
