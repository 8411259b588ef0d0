// Runner executes one batched forward pass of a model over many sequences at
// once: each sequence contributes a chunk of 1..N new tokens at its own
// positions and reads and writes its own paged KV blocks through its block
// table. Prefill chunks and decode tokens of different sequences mix freely
// in one pass; this is the interface the continuous-batching scheduler drives.
//
// Batch invariance: a token's logits depend only on its sequence's tokens and
// KV, never on which other chunks share the pass, the chunk boundaries of its
// prompt, or the thread count (kernels reduce in a fixed order per element;
// work is split across output elements only).
//
// Ownership: borrows the Model and the KvCache, which must outlive it; owns
// its compute pool and scratch buffers.
// Thread safety: confined to one thread (the engine loop), which joins the
// compute pool during Forward().
// Errors: none at run time; chunks come from the scheduler, which keeps them
// valid (ids in the vocabulary, block tables long enough); a violation is a
// bug and CHECKs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/kernels/ops.h"
#include "engine/kernels/thread_pool.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/model.h"

namespace surge::engine::runner {

struct SequenceChunk {
  std::span<const int32_t> tokens;       // the new tokens, in order
  int64_t start_pos = 0;                 // position of tokens[0] in the sequence
  std::span<const int32_t> block_table;  // covers positions [0, start_pos + tokens.size())
  bool want_logits = true;               // compute logits of the chunk's last token
};

class Runner {
 public:
  Runner(const model::Model& model, kv::KvCache& cache, int num_threads);

  // Runs the pass. Returns the logits of the chunks that want them, in chunk
  // order, n_vocab floats each; valid until the next Forward().
  std::span<float> Forward(std::span<const SequenceChunk> chunks);

  const model::Model& model() const { return model_; }
  kernels::ThreadPool& pool() { return pool_; }
  int num_threads() const { return pool_.num_threads(); }
  int32_t block_size() const { return cache_.block_size(); }

 private:
  void Prepare(std::span<const SequenceChunk> chunks);
  void Embed();  // each token's embedding and rotary angles
  void Layer(int il);
  void Attention(int il, const model::LayerWeights& w);
  void WriteKv(int il, int64_t t);  // token t's K and V rows into layer il's cache
  void Output(std::span<const SequenceChunk> chunks);
  // Runs fn(t) for every token row, across the pool when the batch is large.
  template <typename Fn>
  void ForEachToken(Fn&& fn);

  const model::Model& model_;
  const model::ModelConfig& config_;
  kv::KvCache& cache_;
  const kernels::DType kv_type_;  // the cache's row type, as the kernels name it
  kernels::ThreadPool pool_;
  kernels::MatMulScratch matmul_scratch_;

  // Per pass: one row per new token.
  int64_t n_tokens_ = 0;
  std::vector<int32_t> tokens_;
  std::vector<int64_t> positions_;
  std::vector<const SequenceChunk*> chunk_of_;
  // Activations, row-major [token][feature].
  std::vector<float> x_, xn_, q_, k_, v_, attn_;
  std::vector<float> ffn_;   // silu(gate) * up, the down projection's input
  std::vector<float> rope_;  // per token, its position's RopeAngles(), for every layer
  std::vector<float> logits_in_, logits_;
  // Attention: the first token of each query group (runs of consecutive
  // tokens of one chunk) and a last entry n_tokens_; per-thread scratch.
  std::vector<int64_t> group_begin_;
  struct alignas(64) AttendScratch {  // each thread's on its own cache lines
    std::vector<float> scores;        // a score row per query of a call
    std::vector<float> rows;          // AttendPagedGroup()'s
    std::vector<kernels::AttendQuery> queries;
  };
  std::vector<AttendScratch> attend_scratch_;  // one per thread
};

}  // namespace surge::engine::runner
