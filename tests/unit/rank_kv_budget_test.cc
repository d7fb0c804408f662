// A step whose KV appends would take a sequence beyond one rank's whole KV
// budget says so in that rank's report (StepReport::kv_needed), so the
// leader fails it without evicting anything; a step short only because
// other sequences hold the budget does not (eviction can make room there).
#include <catch2/catch.hpp>

#include "backend/cpu/cpu_backend.h"
#include "test_ranks.h"

using namespace ringlm;

namespace {

constexpr int64_t kPageTokens = 16;
// Tiny model: 2 layers * K,V * 16 tokens * 2 KV heads * 16 dims * 4 B + positions.
constexpr size_t kPageBytes = 2 * 2 * 16 * 2 * 16 * 4 + 16 * 4;

// Two ranks: rank 0 with room to spare, rank 1 with `rank1_pages` pages.
std::unique_ptr<test::TestRanks> start(const LlamaModel& model, int64_t rank1_pages) {
  std::vector<EngineOptions> opts(2);
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < 2; ++r) {
    opts[r].world_size = 2;
    opts[r].kv_cache_type = KvCacheType::kF32;
    opts[r].kv_page_tokens = kPageTokens;
    opts[r].kv_budget_bytes = r == 0 ? size_t(1) << 24 : size_t(rank1_pages) * kPageBytes;
    opts[r].comm_timeout = std::chrono::seconds(30);
    backends.push_back(make_cpu_backend({1}));
  }
  return std::make_unique<test::TestRanks>(opts, model, std::move(backends));
}

std::vector<int32_t> tokens(int n) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 7 + 3) % 250;
  return t;
}

StepOutcome prefill(test::TestRanks& g, SeqId seq, int n, int32_t start = 0) {
  return g.leader().lead(make_step_plan(fb::StepKind::Prefill, seq, tokens(n), start,
                                        CpVariant::kPassKV, 0, 0, /*want_logits=*/true));
}

std::vector<std::span<const uint8_t>> views(const std::vector<std::vector<uint8_t>>& shards) {
  return {shards.begin(), shards.end()};
}

StepOutcome decode(test::TestRanks& g, SeqId seq, int32_t pos, int owner) {
  const int32_t token = 5;
  return g.leader().lead(make_step_plan(fb::StepKind::Decode, seq, {&token, 1}, pos,
                                        CpVariant::kAuto, owner, 0, true));
}

}  // namespace

TEST_CASE("a step beyond one rank's whole KV budget names that rank", "[rank][kv]") {
  auto be = make_cpu_backend({1});
  auto model = LlamaModel::Random(test::tiny_random_config(), *be, 5);
  REQUIRE(model.ok());
  auto g = start(*model.value(), 2);  // rank 1 holds 32 tokens

  // 80 tokens: 40 on each rank, 8 more than rank 1 holds even alone.
  StepOutcome big = prefill(*g, 1, 80);
  CHECK(big.status.code() == StatusCode::kResourceExhausted);
  REQUIRE(big.reports.size() == 2);
  CHECK(rank_beyond_kv_budget(big.reports) == 1);
  CHECK(big.reports[1].kv_needed == 40);
  CHECK(big.reports[1].kv_capacity == 2 * kPageTokens);
  CHECK(big.reports[0].kv_needed == 0);
  CHECK(g->kv_tokens(1) == std::vector<int64_t>{0, 0});  // rolled back

  // 64 tokens fill rank 1 exactly.
  StepOutcome fits = prefill(*g, 1, 64);
  INFO(fits.status.ToString());
  REQUIRE(fits.status.ok());
  CHECK(rank_beyond_kv_budget(fits.reports) == -1);
  REQUIRE(g->kv_tokens(1) == std::vector<int64_t>{32, 32});

  // A decode token owned by rank 1 has no room there; one owned by rank 0 has.
  StepOutcome full = decode(*g, 1, 64, /*owner=*/1);
  CHECK(full.status.code() == StatusCode::kResourceExhausted);
  CHECK(rank_beyond_kv_budget(full.reports) == 1);
  CHECK(full.reports[1].kv_needed == 33);
  CHECK(g->kv_tokens(1) == std::vector<int64_t>{32, 32});
  StepOutcome room = decode(*g, 1, 64, /*owner=*/0);
  INFO(room.status.ToString());
  CHECK(room.status.ok());
  CHECK(g->kv_tokens(1) == std::vector<int64_t>{33, 32});
}

TEST_CASE("a step short only because of other sequences names no rank", "[rank][kv]") {
  auto be = make_cpu_backend({1});
  auto model = LlamaModel::Random(test::tiny_random_config(), *be, 5);
  REQUIRE(model.ok());
  auto g = start(*model.value(), 2);

  REQUIRE(prefill(*g, 1, 40).status.ok());  // 20 tokens, both pages of rank 1
  StepOutcome other = prefill(*g, 2, 8);    // one page more on rank 1
  CHECK(other.status.code() == StatusCode::kResourceExhausted);
  REQUIRE(other.reports.size() == 2);
  CHECK(rank_beyond_kv_budget(other.reports) == -1);

  // Once the first sequence is gone, the second fits.
  REQUIRE(g->leader().lead(make_step_plan(fb::StepKind::Drop, 1)).status.ok());
  StepOutcome again = prefill(*g, 2, 8);
  INFO(again.status.ToString());
  CHECK(again.status.ok());
}

TEST_CASE("an imported shard beyond one rank's whole KV budget names that rank", "[rank][kv]") {
  auto be = make_cpu_backend({1});
  auto model = LlamaModel::Random(test::tiny_random_config(), *be, 5);
  REQUIRE(model.ok());
  std::vector<std::vector<uint8_t>> shards;
  {
    auto big = start(*model.value(), 64);
    REQUIRE(prefill(*big, 1, 80).status.ok());  // 40 tokens a rank
    StepOutcome e = big->leader().lead(make_step_plan(fb::StepKind::ExportKv, 1));
    INFO(e.status.ToString());
    REQUIRE(e.status.ok());
    shards = std::move(e.shards);
  }
  REQUIRE(shards.size() == 2);
  auto small = start(*model.value(), 2);  // rank 1 holds 32 tokens
  StepOutcome o = small->leader().lead_import(1, views(shards));
  CHECK(o.status.code() == StatusCode::kResourceExhausted);
  CHECK(rank_beyond_kv_budget(o.reports) == 1);
  CHECK(o.reports[1].kv_needed == 40);
  CHECK(o.reports[1].kv_capacity == 2 * kPageTokens);
  // Short only because another sequence holds rank 1's pages: no rank named.
  auto mid = start(*model.value(), 4);  // 64 tokens
  REQUIRE(prefill(*mid, 2, 60).status.ok());  // 30 tokens, 2 pages of rank 1
  StepOutcome short_by_other = mid->leader().lead_import(1, views(shards));
  CHECK(short_by_other.status.code() == StatusCode::kResourceExhausted);
  CHECK(rank_beyond_kv_budget(short_by_other.reports) == -1);
  REQUIRE(mid->leader().lead(make_step_plan(fb::StepKind::Drop, 2)).status.ok());
  CHECK(mid->leader().lead_import(1, views(shards)).status.ok());
}
