// In-process rank groups for tests: N ranks built as RankGroup builds them
// (make_rank, loopback Gloo through an in-process store), rank 0 led from
// the test's thread, the others serving plans on their own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "model/llama_model.h"
#include "runtime/rank_group.h"

namespace ringlm::test {

// A tiny Llama shape for random-weight models (2 layers, dim 64, heads 4/2,
// vocab 300).
ModelConfig tiny_random_config();

class TestRanks {
 public:
  // One backend per rank (backends.size() = opts.world_size); REQUIREs that
  // every rank connects.
  TestRanks(const EngineOptions& opts, const LlamaModel& model,
            std::vector<std::unique_ptr<Backend>> backends)
      : TestRanks(std::vector<EngineOptions>(size_t(opts.world_size), opts), model,
                  std::move(backends)) {}
  // Each rank with its own options (opts[r].world_size equal).
  TestRanks(const std::vector<EngineOptions>& opts, const LlamaModel& model,
            std::vector<std::unique_ptr<Backend>> backends);
  // Shuts the followers down (aborting the group when that fails) and joins them.
  ~TestRanks();

  RankExecutor& leader() { return *ranks_[0].exec; }
  // Every rank's KV tokens of `seq` as the ranks report them in a step (a
  // Truncate that keeps everything); REQUIREs the step to succeed.
  std::vector<int64_t> kv_tokens(SeqId seq);
  // Followers whose serve() has returned, and what it returned (rank >= 1).
  int followers_done() const { return done_; }
  Status served(int rank) const { return served_[rank]; }

 private:
  std::vector<RankLocal> ranks_;
  std::vector<std::thread> followers_;
  std::vector<Status> served_;
  std::atomic<int> done_{0};
};

}  // namespace ringlm::test
