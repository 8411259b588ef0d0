#include "jobs/train/param_store.h"

#include <algorithm>

#include "base/check.h"

namespace surge::jobs::train {

int ParamStore::Add(std::string name, int64_t rows, int64_t cols, bool decay) {
  SURGE_CHECK(!allocated_ && rows >= 1 && cols >= 1);
  constexpr int64_t kAlign = 16;
  ParamInfo p{std::move(name), rows, cols, total_, decay};
  total_ += (p.size() + kAlign - 1) / kAlign * kAlign;
  infos_.push_back(std::move(p));
  return static_cast<int>(infos_.size() - 1);
}

void ParamStore::Allocate() {
  SURGE_CHECK(!allocated_);
  allocated_ = true;
  const auto n = static_cast<size_t>(total_);
  values_.assign(n, 0.0f);
  grads_.assign(n, 0.0f);
  m_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

int ParamStore::Find(const std::string& name) const {
  for (size_t i = 0; i < infos_.size(); ++i) {
    if (infos_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int64_t ParamStore::num_params() const {
  int64_t n = 0;
  for (const ParamInfo& p : infos_) n += p.size();
  return n;
}

void ParamStore::ZeroGrads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

}  // namespace surge::jobs::train
