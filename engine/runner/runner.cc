#include "engine/runner/runner.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "engine/kernels/quantize.h"

namespace surge::engine::runner {
namespace {

// Below this many rows, per-token work runs on the calling thread: waking the
// pool costs more than the work.
constexpr int64_t kParallelTokenThreshold = 8;

// Attention tasks per pool thread a step aims for at least (for balance).
constexpr int64_t kAttentionTasksPerThread = 4;

// Tokens of one chunk attended together (they share its history, so one
// pass over each K/V block serves them all).
constexpr int64_t kGroupTokens = 16;

void Resize(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(n);
}

}  // namespace

Runner::Runner(const model::Model& model, kv::KvCache& cache, int num_threads)
    : model_(model),
      config_(model.config()),
      cache_(cache),
      kv_type_(cache.shape().type == kv::KvType::kF16 ? kernels::DType::kF16
                                                      : kernels::DType::kQ8_0),
      pool_(num_threads) {
  SURGE_CHECK(cache.shape().n_layers == config_.n_layers);
  SURGE_CHECK(cache.shape().n_kv_heads == config_.n_kv_heads);
  SURGE_CHECK(cache.shape().head_dim == config_.head_dim);
  attend_scratch_.resize(pool_.num_threads());
  for (AttendScratch& a : attend_scratch_) {
    a.rows.resize(static_cast<size_t>(kernels::AttendGroupScratchFloats(
        {nullptr, nullptr, nullptr, cache.block_size(), config_.n_kv_heads, config_.head_dim})));
  }
}

template <typename Fn>
void Runner::ForEachToken(Fn&& fn) {
  if (n_tokens_ < kParallelTokenThreshold) {
    for (int64_t t = 0; t < n_tokens_; ++t) fn(t);
    return;
  }
  pool_.ParallelFor(n_tokens_, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) fn(t);
  });
}

std::span<float> Runner::Forward(std::span<const SequenceChunk> chunks) {
  Prepare(chunks);
  if (n_tokens_ == 0) return {};
  Embed();
  for (int il = 0; il < config_.n_layers; ++il) Layer(il);
  Output(chunks);
  int64_t n_out = std::count_if(chunks.begin(), chunks.end(), [](const SequenceChunk& c) {
    return c.want_logits && !c.tokens.empty();
  });
  return std::span<float>(logits_.data(), n_out * config_.n_vocab);
}

void Runner::Prepare(std::span<const SequenceChunk> chunks) {
  tokens_.clear();
  positions_.clear();
  chunk_of_.clear();
  const int64_t bs = cache_.block_size();
  for (const SequenceChunk& c : chunks) {
    const int64_t end = c.start_pos + static_cast<int64_t>(c.tokens.size());
    SURGE_CHECK(c.start_pos >= 0);
    SURGE_CHECK(static_cast<int64_t>(c.block_table.size()) * bs >= end);
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      SURGE_CHECK(c.tokens[i] >= 0 && c.tokens[i] < config_.n_vocab);
      tokens_.push_back(c.tokens[i]);
      positions_.push_back(c.start_pos + static_cast<int64_t>(i));
      chunk_of_.push_back(&c);
    }
  }
  n_tokens_ = static_cast<int64_t>(tokens_.size());
  const int64_t t = n_tokens_;
  Resize(x_, t * config_.n_embd);
  Resize(xn_, t * std::max(config_.n_embd, config_.q_dim()));
  Resize(q_, t * config_.q_dim());
  Resize(k_, t * config_.kv_dim());
  Resize(v_, t * config_.kv_dim());
  Resize(attn_, t * config_.q_dim());
  Resize(ffn_, t * config_.n_ff);
  Resize(rope_, t * config_.head_dim);
}

void Runner::Embed() {
  const kernels::Matrix& e = model_.weights().token_embd();
  const int64_t row_bytes = kernels::RowBytes(e.type, e.cols);
  const int hd = config_.head_dim;
  ForEachToken([&](int64_t t) {
    const auto* row = static_cast<const uint8_t*>(e.data) + tokens_[t] * row_bytes;
    kernels::DequantizeRow(e.type, row, e.cols, &x_[t * config_.n_embd]);
    kernels::RopeAngles(hd, positions_[t], config_.rope_freq_base, &rope_[t * hd]);
  });
}

void Runner::Layer(int il) {
  const model::LayerWeights& w = model_.weights().layer(il);
  const int64_t d = config_.n_embd;

  // Each sub-layer leaves its output in xn_; the next one's first pass adds
  // it to the residual stream (the last layer's, Output()) and normalises,
  // one pass over each token instead of two.
  ForEachToken([&](int64_t t) {
    if (il > 0) kernels::Add(&x_[t * d], &xn_[t * d], d);
    kernels::RmsNorm(&x_[t * d], w.attn_norm, d, config_.rms_eps, &xn_[t * d]);
  });
  const kernels::MatMulOut qkv[] = {{w.wq, q_.data(), config_.q_dim()},
                                    {w.wk, k_.data(), config_.kv_dim()},
                                    {w.wv, v_.data(), config_.kv_dim()}};
  kernels::MatMulGroup(pool_, qkv, xn_.data(), d, n_tokens_, matmul_scratch_);
  Attention(il, w);
  // xn_ is free again: reuse it for the attention projection's output.
  kernels::MatMul(pool_, w.wo, attn_.data(), config_.q_dim(), n_tokens_, xn_.data(), d,
                  matmul_scratch_);
  ForEachToken([&](int64_t t) {
    kernels::Add(&x_[t * d], &xn_[t * d], d);
    kernels::RmsNorm(&x_[t * d], w.ffn_norm, d, config_.rms_eps, &xn_[t * d]);
  });
  const int64_t ff = config_.n_ff;
  kernels::MatMulSwiGlu(pool_, w.w_gate, w.w_up, xn_.data(), d, n_tokens_, ffn_.data(), ff,
                        matmul_scratch_);
  kernels::MatMul(pool_, w.w_down, ffn_.data(), ff, n_tokens_, xn_.data(), d, matmul_scratch_);
}

void Runner::Attention(int il, const model::LayerWeights& w) {
  const int hd = config_.head_dim;
  const int64_t qd = config_.q_dim(), kvd = config_.kv_dim();
  const kernels::RopeStyle style = config_.arch.rope_style;
  // Bias, Q/K norm and rotary embedding, then the token's K/V into the cache.
  ForEachToken([&](int64_t t) {
    float* q = &q_[t * qd];
    float* k = &k_[t * kvd];
    if (w.bq != nullptr) {
      kernels::Add(q, w.bq, qd);
      kernels::Add(k, w.bk, kvd);
      kernels::Add(&v_[t * kvd], w.bv, kvd);
    }
    if (w.q_norm != nullptr) {
      for (int h = 0; h < config_.n_heads; ++h) {
        kernels::RmsNorm(q + h * hd, w.q_norm, hd, config_.rms_eps, q + h * hd);
      }
      for (int h = 0; h < config_.n_kv_heads; ++h) {
        kernels::RmsNorm(k + h * hd, w.k_norm, hd, config_.rms_eps, k + h * hd);
      }
    }
    kernels::Rope(q, config_.n_heads, hd, &rope_[t * hd], style);
    kernels::Rope(k, config_.n_kv_heads, hd, &rope_[t * hd], style);
    WriteKv(il, t);
  });

  // A task is one query group's attention over a run of its heads. A group
  // is up to kGroupTokens consecutive tokens of one chunk (a prefill chunk's
  // tokens; a decode token is a group of one), and a call to
  // AttendPagedGroup takes every query of the task that reads one KV head
  // (the group's tokens times that head's query heads), so each K/V row is
  // read once for all of them. A task covers all heads when there are
  // groups enough to keep every thread busy (a block's heads are contiguous
  // in the cache, so one thread walks them in address order), fewer when a
  // step has few groups. Tasks differ in length (a prefill chunk's later
  // tokens see more history), so members take them from a WorkQueue and
  // steal when their share runs out. Each query's result is the same bits
  // whatever group it is in and whoever computes it (AttendPagedGroup).
  group_begin_.clear();
  for (int64_t t = 0; t < n_tokens_; ++t) {
    if (t == 0 || chunk_of_[t] != chunk_of_[t - 1] || t - group_begin_.back() == kGroupTokens) {
      group_begin_.push_back(t);
    }
  }
  const int64_t n_groups = static_cast<int64_t>(group_begin_.size());
  group_begin_.push_back(n_tokens_);
  const int n_heads = config_.n_heads;
  const int group = n_heads / config_.n_kv_heads;  // query heads per KV head
  const int64_t splits = std::clamp<int64_t>(
      (kAttentionTasksPerThread * pool_.num_threads() + n_groups - 1) / n_groups, 1, n_heads);
  const int heads_per_task = static_cast<int>((n_heads + splits - 1) / splits);
  const int64_t tasks_per_group = (n_heads + heads_per_task - 1) / heads_per_task;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  kernels::WorkQueue queue(n_groups * tasks_per_group, pool_.num_threads());
  pool_.RunDynamic([&](int thread, int) {
    AttendScratch& scratch = attend_scratch_[thread];
    for (int64_t task; (task = queue.Next(thread)) >= 0;) {
      const int64_t g = task / tasks_per_group;
      const int64_t tb = group_begin_[g], te = group_begin_[g + 1];
      const int h0 = static_cast<int>(task % tasks_per_group) * heads_per_task;
      const int h1 = std::min(n_heads, h0 + heads_per_task);
      const int64_t n_ctx_max = positions_[te - 1] + 1;  // a chunk's positions ascend
      const int64_t max_queries =
          std::min<int64_t>(kernels::kMaxAttendGroup, (te - tb) * std::min(group, h1 - h0));
      if (static_cast<int64_t>(scratch.scores.size()) < max_queries * n_ctx_max) {
        scratch.scores.resize(static_cast<size_t>(max_queries * n_ctx_max));
      }
      const SequenceChunk& c = *chunk_of_[tb];
      const kernels::PagedKv kv{
          cache_.k(il), cache_.v(il), c.block_table.data(), cache_.block_size(), config_.n_kv_heads,
          hd,           kv_type_};
      // The queries of one KV head at a time, at most kMaxAttendGroup a call
      // (so the scores scratch stays that many rows).
      for (int h = h0; h < h1;) {
        const int kv_head = h / group;
        const int h_end = std::min(h1, (kv_head + 1) * group);
        scratch.queries.clear();
        for (int64_t t = tb; t < te; ++t) {
          for (int hq = h; hq < h_end; ++hq) {
            float* scores =
                scratch.scores.data() + static_cast<int64_t>(scratch.queries.size()) * n_ctx_max;
            scratch.queries.push_back(
                {&q_[t * qd + hq * hd], positions_[t] + 1, scores, &attn_[t * qd + hq * hd]});
            if (static_cast<int64_t>(scratch.queries.size()) == max_queries) {
              kernels::AttendPagedGroup(scratch.queries, kv, kv_head, scale, scratch.rows.data());
              scratch.queries.clear();
            }
          }
        }
        if (!scratch.queries.empty()) {
          kernels::AttendPagedGroup(scratch.queries, kv, kv_head, scale, scratch.rows.data());
        }
        h = h_end;
      }
    }
  });
}

void Runner::WriteKv(int il, int64_t t) {
  const int hd = config_.head_dim;
  const int64_t kvd = config_.kv_dim();
  const int32_t bs = cache_.block_size();
  const int64_t pos = positions_[t];
  const int32_t block = chunk_of_[t]->block_table[pos / bs];
  const int32_t slot = static_cast<int32_t>(pos % bs);
  for (int g = 0; g < config_.n_kv_heads; ++g) {
    const int64_t off = cache_.Offset(block, g, slot);
    if (kv_type_ == kernels::DType::kF16) {
      kernels::ToHalf(&k_[t * kvd + g * hd], hd, reinterpret_cast<uint16_t*>(cache_.k(il) + off));
      kernels::ToHalf(&v_[t * kvd + g * hd], hd, reinterpret_cast<uint16_t*>(cache_.v(il) + off));
    } else {
      kernels::QuantizeRow(kv_type_, &k_[t * kvd + g * hd], hd, cache_.k(il) + off);
      kernels::QuantizeRow(kv_type_, &v_[t * kvd + g * hd], hd, cache_.v(il) + off);
    }
  }
}

void Runner::Output(std::span<const SequenceChunk> chunks) {
  const int64_t d = config_.n_embd;
  int64_t n_out = 0;
  int64_t row_end = 0;
  Resize(logits_in_, static_cast<int64_t>(chunks.size()) * d);
  for (const SequenceChunk& c : chunks) {
    row_end += static_cast<int64_t>(c.tokens.size());
    if (!c.want_logits || c.tokens.empty()) continue;
    if (config_.n_layers > 0) {  // the last layer's output joins the residual stream
      kernels::Add(&x_[(row_end - 1) * d], &xn_[(row_end - 1) * d], d);
    }
    kernels::RmsNorm(&x_[(row_end - 1) * d], model_.weights().output_norm(), d, config_.rms_eps,
                     &logits_in_[n_out * d]);
    ++n_out;
  }
  Resize(logits_, n_out * config_.n_vocab);
  kernels::MatMul(pool_, model_.weights().output(), logits_in_.data(), d, n_out, logits_.data(),
                  config_.n_vocab, matmul_scratch_);
}

}  // namespace surge::engine::runner
