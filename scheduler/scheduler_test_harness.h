// Test doubles for the scheduler tests: FakeModel stands in for runner and
// sampler, and Harness plays the Engine loop around a Scheduler.
//
// FakeModel really uses the plan: it writes each computed token (with its
// position) into a fake KV memory through the block table, applies block
// copies, and derives the next token from the context it reads back through
// the table. A wrong block table, a bad prefix-cache hit, a missed
// copy-on-write or a write into a shared block therefore changes the output
// (or fails an expectation), and every finished sequence is compared with
// Reference(), the same request run alone.
//
// Thread safety: single-threaded test code.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/clock.h"
#include "engine/kv/kv_cache_manager.h"
#include "gtest/gtest.h"
#include "scheduler/scheduler.h"

namespace surge::scheduler::testing {

// The fake "logits + sampler": a hash of the whole context and the sample
// index, in [0, vocab).
inline int32_t NextToken(std::span<const int32_t> context, int32_t sample_index, int32_t vocab) {
  uint64_t h =
      1469598103934665603ULL ^ static_cast<uint64_t>(sample_index + 1) * 0x9E3779B97F4A7C15ULL;
  for (int32_t t : context) h = (h ^ static_cast<uint32_t>(t)) * 1099511628211ULL;
  return static_cast<int32_t>((h >> 17) % static_cast<uint64_t>(vocab));
}

// Generation for one sequence of a request, run alone.
inline std::vector<int32_t> Reference(const std::vector<int32_t>& prompt, int32_t max_tokens,
                                      int32_t sample_index, int32_t vocab, int32_t eos) {
  std::vector<int32_t> context = prompt;
  std::vector<int32_t> out;
  while (static_cast<int32_t>(out.size()) < max_tokens) {
    const int32_t t = NextToken(context, sample_index, vocab);
    out.push_back(t);
    context.push_back(t);
    if (t == eos) break;
  }
  return out;
}

class FakeModel {
 public:
  explicit FakeModel(const engine::kv::KvCacheManager& kv, int32_t vocab)
      : kv_(kv), vocab_(vocab), memory_(static_cast<size_t>(kv.num_blocks()) * kv.block_size()) {}

  // Executes the plan; returns one token per needs_logits entry, in order.
  std::vector<int32_t> Execute(const StepPlan& plan) {
    const int32_t bs = kv_.block_size();
    for (const engine::kv::BlockCopy& c : plan.block_copies) {
      for (int32_t s = 0; s < c.num_slots; ++s) {
        memory_[static_cast<size_t>(c.dst_block) * bs + s] =
            memory_[static_cast<size_t>(c.src_block) * bs + s];
      }
    }
    std::vector<int32_t> sampled;
    for (const ScheduledSequence& e : plan.sequences) {
      EXPECT_FALSE(e.tokens.empty());
      for (size_t i = 0; i < e.tokens.size(); ++i) {
        const int64_t pos = e.start_position + static_cast<int64_t>(i);
        EXPECT_LT(pos / bs, static_cast<int64_t>(e.block_table.size())) << "table too short";
        if (pos / bs >= static_cast<int64_t>(e.block_table.size())) return {};
        const int32_t block = e.block_table[pos / bs];
        EXPECT_EQ(kv_.pool().ref_count(block), 1) << "write into a shared block";
        memory_[static_cast<size_t>(block) * bs + pos % bs] = {e.tokens[i], pos};
      }
      if (e.needs_logits) sampled.push_back(Logits(e));
    }
    return sampled;
  }

 private:
  struct Slot {
    int32_t token = -1;
    int64_t position = -1;
  };

  int32_t Logits(const ScheduledSequence& e) {
    const int32_t bs = kv_.block_size();
    const int64_t end = e.start_position + static_cast<int64_t>(e.tokens.size());
    std::vector<int32_t> context;
    for (int64_t p = 0; p < end; ++p) {
      const Slot& s = memory_[static_cast<size_t>(e.block_table[p / bs]) * bs + p % bs];
      EXPECT_EQ(s.position, p) << "KV slot holds another position";
      context.push_back(s.token);
    }
    return NextToken(context, e.sample_index, vocab_);
  }

  const engine::kv::KvCacheManager& kv_;
  int32_t vocab_;
  std::vector<Slot> memory_;
};

// What one scheduled entry looked like (copied: plan spans die at Update()).
struct Scheduled {
  int64_t request = 0;
  int64_t num_tokens = 0;
  bool operator==(const Scheduled&) const = default;
};

struct StepRecord {
  std::vector<Scheduled> sequences;
  std::vector<base::RequestId> expired;
  std::vector<base::SequenceId> preempted;
  int64_t num_tokens = 0;
  int64_t num_block_copies = 0;
};

// Plays the Engine: steps the scheduler with the FakeModel, decides when a
// sequence finishes (max_tokens or eos), and records every request's
// outputs and terminal events.
class Harness {
 public:
  struct Options {
    SchedulerConfig config;
    int32_t num_blocks = 64;
    int32_t block_size = 4;
    int32_t vocab = 1000;
    int32_t eos = -1;  // -1: no early stop
    engine::kv::BlockHashFn hash = &engine::kv::HashBlockTokens;
  };

  explicit Harness(const Options& o)
      : options_(o),
        kv_(o.num_blocks, o.block_size, o.hash),
        scheduler_(o.config, kv_, clock_),
        model_(kv_, o.vocab) {}

  AdmitResult Add(Request r) {
    if (r.arrival == base::TimePoint{}) r.arrival = clock_.Now();
    Tracked t{r.prompt, r.max_tokens, r.n};
    const base::RequestId id = r.id;
    const AdmitResult result = scheduler_.Add(std::move(r));
    if (result == AdmitResult::kAdmitted) {
      t.outputs.resize(static_cast<size_t>(t.n));
      requests_[id.value()] = std::move(t);
    }
    return result;
  }

  // Adds a request with the defaults of the tests.
  AdmitResult Add(int64_t id, std::vector<int32_t> prompt, int32_t max_tokens, int32_t priority = 0,
                  uint64_t salt = 0, int32_t n = 1) {
    Request r;
    r.id = base::RequestId(id);
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.priority = priority;
    r.salt = salt;
    r.n = n;
    return Add(std::move(r));
  }

  int32_t Cancel(int64_t id) {
    const int32_t n = scheduler_.Cancel(base::RequestId(id));
    if (n > 0) Terminal(id, "cancelled");
    return n;
  }

  // One engine step. `after_execute` runs between the model and Update(),
  // where the Engine would notice a failed step or a disconnect.
  StepRecord Step(const std::function<void()>& after_execute = nullptr) {
    StepPlan plan = scheduler_.Schedule();
    StepRecord rec;
    rec.expired = plan.expired;
    rec.preempted = plan.preempted;
    rec.num_tokens = plan.num_tokens;
    rec.num_block_copies = static_cast<int64_t>(plan.block_copies.size());
    for (base::RequestId id : plan.expired) Terminal(id.value(), "expired");
    EXPECT_LE(plan.num_tokens, options_.config.max_batch_tokens);
    EXPECT_LE(scheduler_.num_running(), options_.config.max_running_seqs);
    const std::vector<int32_t> tokens = model_.Execute(plan);
    if (after_execute) after_execute();
    StepResult result;
    size_t next = 0;
    for (const ScheduledSequence& e : plan.sequences) {
      rec.sequences.push_back({e.request.value(), static_cast<int64_t>(e.tokens.size())});
      if (!e.needs_logits || next >= tokens.size()) continue;
      const int32_t token = tokens[next++];
      if (!requests_.at(e.request.value()).terminal.empty()) continue;  // cancelled meanwhile
      result.sampled.push_back(Sample(e, token));
    }
    scheduler_.Update(plan, result);
    clock_.Advance(std::chrono::milliseconds(1));
    history_.push_back(rec);
    return rec;
  }

  // Steps until the scheduler is idle; false if max_steps is not enough.
  bool RunUntilIdle(int max_steps = 10000) {
    for (int i = 0; i < max_steps; ++i) {
      if (scheduler_.idle()) return true;
      Step();
    }
    return scheduler_.idle();
  }

  // Every admitted request ended exactly once; finished ones equal their
  // reference; no KV block is held.
  void ExpectAllEndedCorrectlyAndNoLeaks() {
    EXPECT_TRUE(scheduler_.idle());
    EXPECT_EQ(kv_.num_free_blocks(), kv_.num_blocks()) << "leaked KV blocks";
    for (const auto& [id, t] : requests_) {
      EXPECT_EQ(t.terminal.size(), 1u) << "request " << id << " ended " << t.terminal.size();
      if (t.terminal.size() != 1 || t.terminal[0] != "finished") continue;
      for (int32_t i = 0; i < t.n; ++i) {
        EXPECT_EQ(t.outputs[i], Reference(t.prompt, t.max_tokens, i, options_.vocab, options_.eos))
            << "request " << id << " sample " << i;
      }
    }
  }

  const std::string& terminal(int64_t id) { return requests_.at(id).terminal.at(0); }
  const std::vector<int32_t>& output(int64_t id, int32_t i = 0) {
    return requests_.at(id).outputs.at(i);
  }
  const std::vector<StepRecord>& history() const { return history_; }
  base::FakeClock& clock() { return clock_; }
  engine::kv::KvCacheManager& kv() { return kv_; }
  Scheduler& scheduler() { return scheduler_; }

 private:
  struct Tracked {
    std::vector<int32_t> prompt;
    int32_t max_tokens = 0;
    int32_t n = 1;
    std::vector<std::vector<int32_t>> outputs;
    int32_t num_finished = 0;
    std::vector<std::string> terminal;
  };

  SampledToken Sample(const ScheduledSequence& e, int32_t token) {
    Tracked& t = requests_.at(e.request.value());
    EXPECT_TRUE(t.terminal.empty()) << "token after the end of request " << e.request;
    std::vector<int32_t>& out = t.outputs.at(e.sample_index);
    out.push_back(token);
    const bool finished = static_cast<int32_t>(out.size()) >= t.max_tokens || token == options_.eos;
    if (finished && ++t.num_finished == t.n) Terminal(e.request.value(), "finished");
    return {e.seq, token, finished};
  }

  void Terminal(int64_t id, const std::string& what) { requests_.at(id).terminal.push_back(what); }

  Options options_;
  base::FakeClock clock_;
  engine::kv::KvCacheManager kv_;
  Scheduler scheduler_;
  FakeModel model_;
  std::map<int64_t, Tracked> requests_;
  std::vector<StepRecord> history_;
};

inline std::vector<int32_t> Tokens(int32_t n, int32_t first = 1) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) t[i] = first + i;
  return t;
}

}  // namespace surge::scheduler::testing
