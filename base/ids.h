// Strong integer ids: a RequestId cannot be passed where a BlockId is wanted.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

namespace surge::base {

template <typename Tag, typename T = int64_t>
class StrongId {
 public:
  using ValueType = T;
  constexpr StrongId() = default;
  constexpr explicit StrongId(T value) : value_(value) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const StrongId&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, StrongId id) {
    return H::combine(std::move(h), id.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, StrongId id) { return os << id.value_; }

 private:
  T value_ = -1;
};

struct RequestIdTag {};
struct SequenceIdTag {};
struct BlockIdTag {};
using RequestId = StrongId<RequestIdTag>;
using SequenceId = StrongId<SequenceIdTag>;
using BlockId = StrongId<BlockIdTag, int32_t>;

}  // namespace surge::base

template <typename Tag, typename T>
struct std::hash<surge::base::StrongId<Tag, T>> {
  size_t operator()(surge::base::StrongId<Tag, T> id) const { return std::hash<T>()(id.value()); }
};
