# Sampler: surge_sampler (penalties, greedy / top-k / top-p / min-p, logprobs).
# -ffp-contract=off: no fused multiply-add, so the weights (and so the sampled
# tokens) are bitwise the same on every machine and with any -march.
# -fno-trapping-math: does not change any value (we never read FP exception
# flags); it lets GCC if-convert the selects in Exp() so the weight loops vectorize.
surge_library(surge_sampler
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/sampler.cc
  DEPS surge_base absl::flat_hash_map absl::status absl::strings
  COPTS -ffp-contract=off -fno-trapping-math)
surge_test(sampler_test SRCS ${CMAKE_CURRENT_SOURCE_DIR}/sampler_test.cc DEPS surge_sampler)
