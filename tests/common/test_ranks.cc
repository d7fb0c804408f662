#include "test_ranks.h"

#include <catch2/catch.hpp>
#include <climits>

namespace ringlm::test {

ModelConfig tiny_random_config() {
  ModelConfig c;
  c.arch = "llama";
  c.n_layers = 2, c.dim = 64, c.n_heads = 4, c.n_kv_heads = 2, c.ffn_dim = 128;
  c.vocab = 300, c.context_length = 4096;
  c.head_dim = c.dim / c.n_heads;
  c.rope.head_dim = c.rope.rot_dim = c.head_dim;
  return c;
}

TestRanks::TestRanks(const std::vector<EngineOptions>& opts, const LlamaModel& model,
                     std::vector<std::unique_ptr<Backend>> backends) {
  const int n = int(opts.size());
  REQUIRE(int(backends.size()) == n);
  const StoreSpec store = StoreSpec::InProcess(std::make_shared<InProcessStore>());
  std::vector<Result<RankLocal>> made;
  for (int r = 0; r < n; ++r) made.emplace_back(Internal("not started"));
  std::vector<std::thread> starters;
  for (int r = 0; r < n; ++r) {
    starters.emplace_back(
        [&, r] { made[r] = make_rank(opts[r], model, r, r, std::move(backends[r]), store); });
  }
  for (auto& t : starters) t.join();
  for (int r = 0; r < n; ++r) {
    INFO("rank " << r << ": " << made[r].status().ToString());
    REQUIRE(made[r].ok());
    ranks_.push_back(std::move(made[r]).value());
  }
  served_.resize(n);
  for (int r = 1; r < n; ++r) {
    followers_.emplace_back([this, r] {
      served_[r] = ranks_[r].exec->serve();
      ++done_;
    });
  }
}

TestRanks::~TestRanks() {
  if (done_ > 0) {
    for (RankLocal& r : ranks_) r.comm->abort();
  } else {
    StepOutcome o = leader().lead(make_step_plan(fb::StepKind::Shutdown, 0));
    if (!o.status.ok()) {
      for (RankLocal& r : ranks_) r.comm->abort();
    }
  }
  for (auto& t : followers_) t.join();
}

std::vector<int64_t> TestRanks::kv_tokens(SeqId seq) {
  StepOutcome o = leader().lead(
      make_step_plan(fb::StepKind::Truncate, seq, {}, 0, CpVariant::kAuto, 0, INT32_MAX));
  REQUIRE(o.status.ok());
  std::vector<int64_t> t;
  for (const StepReport& r : o.reports) t.push_back(r.kv_tokens);
  return t;
}

}  // namespace ringlm::test
