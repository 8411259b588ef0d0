// ParamStore holds every trainable tensor of a model in one flat float
// buffer, with three more buffers of the same layout: the gradients and
// AdamW's two moment estimates. One layout for all four keeps the optimizer,
// gradient clipping and checkpoints simple loops over flat arrays.
//
// Model: tensors are added (name, rows, cols, decay) before Allocate(); each
// gets an offset aligned to 16 floats (64 bytes). A tensor of `rows` x `cols`
// is row-major; a vector has rows = 1. GGUF calls its shape {cols, rows}.
// After Allocate() the layout is fixed; values start at zero.
// Ownership: owns the buffers; pointers stay valid for the store's lifetime.
// Thread safety: not thread-safe; the trainer's thread owns it (the compute
// pool writes disjoint ranges under that thread's control).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace surge::jobs::train {

struct ParamInfo {
  std::string name;  // GGUF tensor name, e.g. "blk.0.attn_q.weight"
  int64_t rows = 1;
  int64_t cols = 1;
  int64_t offset = 0;  // into the flat buffers, in floats
  bool decay = true;   // AdamW weight decay applies (matrices, not norms)

  int64_t size() const { return rows * cols; }
};

class ParamStore {
 public:
  // Returns the tensor's id (its index). Only before Allocate().
  int Add(std::string name, int64_t rows, int64_t cols, bool decay);
  void Allocate();

  const std::vector<ParamInfo>& infos() const { return infos_; }
  const ParamInfo& info(int id) const { return infos_[static_cast<size_t>(id)]; }
  // The id of `name`, or -1.
  int Find(const std::string& name) const;

  float* value(int id) { return values_.data() + info(id).offset; }
  const float* value(int id) const { return values_.data() + info(id).offset; }
  float* grad(int id) { return grads_.data() + info(id).offset; }
  const float* grad(int id) const { return grads_.data() + info(id).offset; }
  float* moment1(int id) { return m_.data() + info(id).offset; }
  const float* moment1(int id) const { return m_.data() + info(id).offset; }
  float* moment2(int id) { return v_.data() + info(id).offset; }
  const float* moment2(int id) const { return v_.data() + info(id).offset; }

  // The flat buffers (padding between tensors included; it stays zero).
  std::span<float> values() { return values_; }
  std::span<float> grads() { return grads_; }
  std::span<float> moments1() { return m_; }
  std::span<float> moments2() { return v_; }

  // Number of trainable floats (padding excluded).
  int64_t num_params() const;
  void ZeroGrads();

 private:
  std::vector<ParamInfo> infos_;
  int64_t total_ = 0;
  bool allocated_ = false;
  std::vector<float> values_, grads_, m_, v_;
};

}  // namespace surge::jobs::train
