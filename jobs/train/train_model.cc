#include "jobs/train/train_model.h"

#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "jobs/train/rng.h"

namespace surge::jobs::train {
namespace {

size_t Floats(int64_t n) { return static_cast<size_t>(n); }

}  // namespace

absl::Status ModelShape::Validate() const {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("model shape: ", std::string(what)));
  };
  if (n_vocab < 2 || n_embd < 2 || n_layers < 1 || n_heads < 1 || n_ff < 1 || n_ctx < 1) {
    return bad("vocab, n_embd, layers, heads, n_ff and context must all be positive");
  }
  if (n_embd % n_heads != 0) return bad("heads must divide n_embd");
  if (head_dim() % 2 != 0) return bad("head width (n_embd / heads) must be even for rope");
  if (n_kv_heads < 1 || n_heads % n_kv_heads != 0) return bad("KV heads must divide heads");
  if (!(rms_eps > 0.0f) || !(rope_freq_base > 1.0f)) return bad("bad rms_eps or rope base");
  return absl::OkStatus();
}

TrainModel::TrainModel(const ModelShape& shape, int64_t max_batch,
                       engine::kernels::ThreadPool* pool)
    : shape_(shape),
      max_batch_(max_batch),
      pool_(pool),
      rope_(shape.n_ctx, shape.head_dim(), shape.rope_freq_base) {
  SURGE_CHECK(shape.Validate().ok() && max_batch >= 1);
  const int64_t c = shape.n_embd, f = shape.n_ff, v = shape.n_vocab;
  const int64_t qd = int64_t{shape.n_heads} * shape.head_dim();
  const int64_t kvd = int64_t{shape.n_kv_heads} * shape.head_dim();
  embd_id_ = params_.Add("token_embd.weight", v, c, true);
  if (!shape.tied_embeddings) output_id_ = params_.Add("output.weight", v, c, true);
  output_norm_id_ = params_.Add("output_norm.weight", 1, c, false);
  for (int il = 0; il < shape.n_layers; ++il) {
    const std::string p = absl::StrCat("blk.", il, ".");
    LayerIds ids;
    ids.attn_norm = params_.Add(p + "attn_norm.weight", 1, c, false);
    ids.wq = params_.Add(p + "attn_q.weight", qd, c, true);
    ids.wk = params_.Add(p + "attn_k.weight", kvd, c, true);
    ids.wv = params_.Add(p + "attn_v.weight", kvd, c, true);
    ids.wo = params_.Add(p + "attn_output.weight", c, qd, true);
    ids.ffn_norm = params_.Add(p + "ffn_norm.weight", 1, c, false);
    ids.gate = params_.Add(p + "ffn_gate.weight", f, c, true);
    ids.up = params_.Add(p + "ffn_up.weight", f, c, true);
    ids.down = params_.Add(p + "ffn_down.weight", c, f, true);
    layer_ids_.push_back(ids);
  }
  params_.Allocate();

  const int64_t n = max_batch * shape.n_ctx;
  const int64_t probs = max_batch * shape.n_heads * int64_t{shape.n_ctx} * shape.n_ctx;
  resid_.assign(static_cast<size_t>(shape.n_layers + 1), std::vector<float>(Floats(n * c)));
  acts_.resize(static_cast<size_t>(shape.n_layers));
  for (LayerActs& a : acts_) {
    for (auto* buf : {&a.xn1, &a.x_mid, &a.xn2}) buf->resize(Floats(n * c));
    for (auto* buf : {&a.rstd1, &a.rstd2}) buf->resize(Floats(n));
    for (auto* buf : {&a.q, &a.attn}) buf->resize(Floats(n * qd));
    for (auto* buf : {&a.k, &a.v}) buf->resize(Floats(n * kvd));
    for (auto* buf : {&a.gate, &a.up, &a.hff}) buf->resize(Floats(n * f));
    a.probs.resize(Floats(probs));
  }
  xf_.resize(Floats(n * c));
  rstdf_.resize(Floats(n));
  logits_.resize(Floats(n * v));
  losses_.resize(Floats(n));
  for (auto* buf : {&dresid_, &dtmp_, &dxn_}) buf->resize(Floats(n * c));
  for (auto* buf : {&dq_, &dattn_}) buf->resize(Floats(n * qd));
  for (auto* buf : {&dk_, &dv_}) buf->resize(Floats(n * kvd));
  for (auto* buf : {&dgate_, &dup_, &dhff_}) buf->resize(Floats(n * f));
}

void TrainModel::InitWeights(uint64_t seed) {
  Rng rng(seed);
  const float projection = 0.02f / std::sqrt(2.0f * static_cast<float>(shape_.n_layers));
  for (int id = 0; id < static_cast<int>(params_.infos().size()); ++id) {
    const ParamInfo& p = params_.info(id);
    float* w = params_.value(id);
    if (!p.decay) {  // norms
      std::fill(w, w + p.size(), 1.0f);
      continue;
    }
    const bool is_projection =
        p.name.ends_with("attn_output.weight") || p.name.ends_with("ffn_down.weight");
    const float stddev = is_projection ? projection : 0.02f;
    for (int64_t i = 0; i < p.size(); ++i) w[i] = stddev * rng.Normal();
  }
}

AttentionShape TrainModel::Attn(int64_t batch, int64_t seq_len) const {
  return {batch, seq_len, shape_.n_heads, shape_.n_kv_heads, shape_.head_dim()};
}

double TrainModel::Forward(std::span<const int32_t> inputs, std::span<const int32_t> targets,
                           int64_t batch, int64_t seq_len) {
  SURGE_CHECK(batch >= 1 && batch <= max_batch_ && seq_len >= 1 && seq_len <= shape_.n_ctx);
  const int64_t rows = batch * seq_len;
  SURGE_CHECK(static_cast<int64_t>(inputs.size()) == rows);
  SURGE_CHECK(targets.empty() || static_cast<int64_t>(targets.size()) == rows);
  batch_ = batch;
  seq_len_ = seq_len;
  have_targets_ = !targets.empty();
  inputs_.assign(inputs.begin(), inputs.end());
  targets_.assign(targets.begin(), targets.end());
  const int64_t c = shape_.n_embd, v = shape_.n_vocab;

  EmbeddingForward(inputs_.data(), rows, params_.value(embd_id_), c, resid_[0].data(), pool_);
  const AttentionShape as = Attn(batch, seq_len);
  for (int il = 0; il < shape_.n_layers; ++il) ForwardLayer(il, rows, as);
  RmsNormForward(resid_.back().data(), params_.value(output_norm_id_), rows, c, shape_.rms_eps,
                 xf_.data(), rstdf_.data(), pool_);
  LinearForward(xf_.data(), params_.value(output_id()), rows, c, v, logits_.data(), wt_scratch_,
                pool_);
  if (!have_targets_) return 0.0;
  // The loss and its gradient in one pass: the logits become d(loss)/d(logits).
  CrossEntropyWithGrad(logits_.data(), targets_.data(), rows, v, 1.0f / static_cast<float>(rows),
                       losses_.data(), pool_);
  double sum = 0;
  for (int64_t i = 0; i < rows; ++i) sum += losses_[i];
  return sum / static_cast<double>(rows);
}

void TrainModel::ForwardLayer(int il, int64_t rows, const AttentionShape& as) {
  const LayerIds& id = layer_ids_[il];
  LayerActs& a = acts_[il];
  const int64_t c = shape_.n_embd, f = shape_.n_ff, qd = as.q_dim(), kvd = as.kv_dim();
  const float* x = resid_[il].data();
  ParamStore& p = params_;
  RmsNormForward(x, p.value(id.attn_norm), rows, c, shape_.rms_eps, a.xn1.data(), a.rstd1.data(),
                 pool_);
  LinearForward(a.xn1.data(), p.value(id.wq), rows, c, qd, a.q.data(), wt_scratch_, pool_);
  LinearForward(a.xn1.data(), p.value(id.wk), rows, c, kvd, a.k.data(), wt_scratch_, pool_);
  LinearForward(a.xn1.data(), p.value(id.wv), rows, c, kvd, a.v.data(), wt_scratch_, pool_);
  RopeForward(a.q.data(), rows, as.seq_len, as.n_heads, rope_, pool_);
  RopeForward(a.k.data(), rows, as.seq_len, as.n_kv_heads, rope_, pool_);
  AttentionForward(as, a.q.data(), a.k.data(), a.v.data(), a.probs.data(), a.attn.data(), pool_);
  LinearForward(a.attn.data(), p.value(id.wo), rows, qd, c, dtmp_.data(), wt_scratch_, pool_);
  AddForward(x, dtmp_.data(), rows * c, a.x_mid.data(), pool_);
  RmsNormForward(a.x_mid.data(), p.value(id.ffn_norm), rows, c, shape_.rms_eps, a.xn2.data(),
                 a.rstd2.data(), pool_);
  LinearForward(a.xn2.data(), p.value(id.gate), rows, c, f, a.gate.data(), wt_scratch_, pool_);
  LinearForward(a.xn2.data(), p.value(id.up), rows, c, f, a.up.data(), wt_scratch_, pool_);
  SwigluForward(a.gate.data(), a.up.data(), rows * f, a.hff.data(), pool_);
  LinearForward(a.hff.data(), p.value(id.down), rows, f, c, dtmp_.data(), wt_scratch_, pool_);
  AddForward(a.x_mid.data(), dtmp_.data(), rows * c, resid_[il + 1].data(), pool_);
}

std::span<const float> TrainModel::logits() const {
  return {logits_.data(), Floats(batch_ * seq_len_ * shape_.n_vocab)};
}

void TrainModel::Backward() {
  SURGE_CHECK(have_targets_);
  const int64_t rows = batch_ * seq_len_, c = shape_.n_embd, v = shape_.n_vocab;
  ParamStore& p = params_;
  // Forward() left d(loss)/d(logits) in logits_.
  LinearBackward(logits_.data(), xf_.data(), p.value(output_id()), rows, c, v, dxn_.data(), false,
                 p.grad(output_id()), pool_);
  RmsNormBackward(dxn_.data(), resid_.back().data(), p.value(output_norm_id_), rstdf_.data(), rows,
                  c, dresid_.data(), p.grad(output_norm_id_), pool_);
  const AttentionShape as = Attn(batch_, seq_len_);
  for (int il = shape_.n_layers - 1; il >= 0; --il) BackwardLayer(il, rows, as);
  EmbeddingBackward(inputs_.data(), rows, dresid_.data(), c, p.grad(embd_id_), pool_);
  have_targets_ = false;  // one Backward() per Forward()
}

// On entry dresid_ holds d(loss)/d(output of layer il); on return, of its input.
void TrainModel::BackwardLayer(int il, int64_t rows, const AttentionShape& as) {
  const LayerIds& id = layer_ids_[il];
  LayerActs& a = acts_[il];
  const int64_t c = shape_.n_embd, f = shape_.n_ff, qd = as.q_dim(), kvd = as.kv_dim();
  ParamStore& p = params_;
  // Feed-forward half: out = x_mid + down(swiglu(gate(m), up(m))).
  LinearBackward(dresid_.data(), a.hff.data(), p.value(id.down), rows, f, c, dhff_.data(), false,
                 p.grad(id.down), pool_);
  SwigluBackward(dhff_.data(), a.gate.data(), a.up.data(), rows * f, dgate_.data(), dup_.data(),
                 pool_);
  LinearBackward(dgate_.data(), a.xn2.data(), p.value(id.gate), rows, c, f, dxn_.data(), false,
                 p.grad(id.gate), pool_);
  LinearBackward(dup_.data(), a.xn2.data(), p.value(id.up), rows, c, f, dxn_.data(), true,
                 p.grad(id.up), pool_);
  RmsNormBackward(dxn_.data(), a.x_mid.data(), p.value(id.ffn_norm), a.rstd2.data(), rows, c,
                  dtmp_.data(), p.grad(id.ffn_norm), pool_);
  AddInto(dresid_.data(), dtmp_.data(), rows * c, pool_);  // now d/d(x_mid)
  // Attention half: x_mid = x + wo(attn(rope(q), rope(k), v)).
  LinearBackward(dresid_.data(), a.attn.data(), p.value(id.wo), rows, qd, c, dattn_.data(), false,
                 p.grad(id.wo), pool_);
  AttentionBackward(as, dattn_.data(), a.q.data(), a.k.data(), a.v.data(), a.probs.data(),
                    dq_.data(), dk_.data(), dv_.data(), pool_);
  RopeBackward(dq_.data(), rows, as.seq_len, as.n_heads, rope_, pool_);
  RopeBackward(dk_.data(), rows, as.seq_len, as.n_kv_heads, rope_, pool_);
  LinearBackward(dq_.data(), a.xn1.data(), p.value(id.wq), rows, c, qd, dxn_.data(), false,
                 p.grad(id.wq), pool_);
  LinearBackward(dk_.data(), a.xn1.data(), p.value(id.wk), rows, c, kvd, dxn_.data(), true,
                 p.grad(id.wk), pool_);
  LinearBackward(dv_.data(), a.xn1.data(), p.value(id.wv), rows, c, kvd, dxn_.data(), true,
                 p.grad(id.wv), pool_);
  RmsNormBackward(dxn_.data(), resid_[il].data(), p.value(id.attn_norm), a.rstd1.data(), rows, c,
                  dtmp_.data(), p.grad(id.attn_norm), pool_);
  AddInto(dresid_.data(), dtmp_.data(), rows * c, pool_);
}

}  // namespace surge::jobs::train
