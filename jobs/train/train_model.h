// TrainModel is a llama-architecture decoder that can learn: its weights
// live in a ParamStore under the GGUF tensor names the engine loads, its
// forward pass keeps every activation the backward pass needs, and its
// backward pass fills the store's gradients.
//
// Architecture (what engine/runner computes for general.architecture =
// "llama"): token embedding; per layer x += Wo·Attn(rope(Wq·n), rope(Wk·n),
// Wv·n) with n = RMSNorm(x)·attn_norm, then x += Wdown·(silu(Wgate·m) *
// (Wup·m)) with m = RMSNorm(x)·ffn_norm; logits = Wout·(RMSNorm(x)·
// output_norm), where Wout is the embedding table when tied. RoPE pairs
// (2i, 2i+1) as llama's GGUF layout does; grouped KV heads optional.
//
// Model: one Forward() (with targets) then one Backward() per step; the
// loss is the mean cross-entropy over all batch x seq_len positions.
// Ownership: owns its parameters and activation buffers (sized for
// max_batch x n_ctx tokens at construction); borrows the pool.
// Thread safety: confined to one thread, which drives the pool.
// Errors: the shape is validated by ModelShape::Validate() before a model
// is built (a bad shape passed anyway is a bug and CHECKs).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "engine/kernels/thread_pool.h"
#include "jobs/train/attention.h"
#include "jobs/train/ops.h"
#include "jobs/train/param_store.h"

namespace surge::jobs::train {

struct ModelShape {
  int32_t n_vocab = 0;
  int32_t n_embd = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t n_ff = 0;
  int32_t n_ctx = 0;  // longest sequence trained on (llama.context_length)
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  bool tied_embeddings = true;

  int32_t head_dim() const { return n_heads > 0 ? n_embd / n_heads : 0; }
  // InvalidArgument naming the first inconsistency (sizes < 1, heads that do
  // not divide n_embd, an odd head_dim, KV heads that do not divide heads).
  absl::Status Validate() const;
};

class TrainModel {
 public:
  TrainModel(const ModelShape& shape, int64_t max_batch, engine::kernels::ThreadPool* pool);

  // Matrices ~N(0, 0.02), attn_output and ffn_down scaled by
  // 1/sqrt(2 n_layers), norms 1: a pure function of the seed.
  void InitWeights(uint64_t seed);

  // Runs batch sequences of seq_len tokens (inputs row-major [batch,
  // seq_len], ids < n_vocab). With targets (same shape): returns the mean
  // cross-entropy and keeps what Backward() needs (the logits buffer then
  // holds their gradient). Without: returns 0 and leaves the logits in
  // logits(). (The mean is summed in double and
  // returned as double, so finite-difference checks can resolve it.)
  double Forward(std::span<const int32_t> inputs, std::span<const int32_t> targets, int64_t batch,
                 int64_t seq_len);

  // Adds d(mean loss)/d(params) of the last Forward() with targets to the
  // store's gradients (the caller zeroes them between steps).
  void Backward();

  // [batch * seq_len, n_vocab] logits of the last Forward() without targets.
  std::span<const float> logits() const;

  ParamStore& params() { return params_; }
  const ParamStore& params() const { return params_; }
  const ModelShape& shape() const { return shape_; }
  int64_t max_batch() const { return max_batch_; }

 private:
  struct LayerIds {
    int attn_norm, wq, wk, wv, wo, ffn_norm, gate, up, down;
  };
  struct LayerActs {
    std::vector<float> xn1, rstd1, q, k, v, probs, attn, x_mid, xn2, rstd2, gate, up, hff;
  };

  void ForwardLayer(int il, int64_t rows, const AttentionShape& as);
  void BackwardLayer(int il, int64_t rows, const AttentionShape& as);
  int output_id() const { return shape_.tied_embeddings ? embd_id_ : output_id_; }
  AttentionShape Attn(int64_t batch, int64_t seq_len) const;

  ModelShape shape_;
  int64_t max_batch_;
  engine::kernels::ThreadPool* pool_;
  RopeTable rope_;
  ParamStore params_;
  int embd_id_ = -1, output_id_ = -1, output_norm_id_ = -1;
  std::vector<LayerIds> layer_ids_;

  // Activations of the last forward pass.
  int64_t batch_ = 0, seq_len_ = 0;
  bool have_targets_ = false;
  std::vector<int32_t> inputs_, targets_;
  std::vector<std::vector<float>> resid_;  // n_layers + 1 residual streams
  std::vector<LayerActs> acts_;
  std::vector<float> xf_, rstdf_, logits_, losses_;
  // Backward scratch, shared by all layers.
  std::vector<float> dresid_, dtmp_, dxn_, dq_, dk_, dv_, dattn_, dgate_, dup_, dhff_;
  std::vector<float> wt_scratch_;  // W^T for LinearForward
};

}  // namespace surge::jobs::train
