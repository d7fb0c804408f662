// Load-balanced causal sharding (docs/context-parallelism.md section 1) and
// round-robin decode ownership.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "cp/sharding.h"

using namespace ringlm;

namespace {

// Causal (query, key) pairs a rank computes in a prefill of the turn when the
// P cached tokens precede it: a query at position p sees keys 0..p.
int64_t causal_pairs(const RankShard& s) {
  int64_t pairs = 0;
  for (int32_t p : s.positions) {
    if (p >= 0) pairs += static_cast<int64_t>(p) + 1;
  }
  return pairs;
}

int64_t spread(const std::vector<int64_t>& v) {
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return *hi - *lo;
}

}  // namespace

TEST_CASE("shard plan: every token once, global positions, equal padded counts", "[cp]") {
  const int n = GENERATE(1, 2, 3, 4);
  const int64_t t = GENERATE_COPY(values<int64_t>({1, 2 * n - 1, 2 * n, 2 * n + 1, 1000, 1001}));
  const int64_t p = GENERATE(0, 37);
  if (t < 1) return;  // 2N-1 is fine for every N >= 1; guard anyway
  CAPTURE(n, t, p);

  auto plan_r = make_shard_plan(t, p, n);
  REQUIRE(plan_r.ok());
  const ShardPlan& plan = plan_r.value();
  const int64_t chunk = (t + 2 * n - 1) / (2 * n);
  REQUIRE(plan.chunk == chunk);
  REQUIRE(plan.padded_count == 2 * chunk);
  REQUIRE(plan.ranks.size() == static_cast<size_t>(n));

  std::vector<int> seen(t, 0);
  int64_t total = 0;
  for (int r = 0; r < n; ++r) {
    const RankShard& s = plan.ranks[r];
    REQUIRE(s.slot == r);  // default plan: rank i owns chunks i and 2N-1-i
    REQUIRE(static_cast<int64_t>(s.positions.size()) == plan.padded_count);
    REQUIRE(s.local_count() <= plan.padded_count);
    total += s.local_count();
    for (int64_t row = 0; row < plan.padded_count; ++row) {
      if (row < s.local_count()) {
        const int64_t tok = s.token_index[row];
        REQUIRE(tok >= 0);
        REQUIRE(tok < t);
        ++seen[tok];
        REQUIRE(s.positions[row] == p + tok);  // global, never local
        const int64_t chunk_of = tok / chunk;
        REQUIRE((chunk_of == r || chunk_of == 2 * n - 1 - r));
        REQUIRE(plan.owner_rank[tok] == r);
        REQUIRE(plan.owner_row[tok] == row);
        if (row > 0) REQUIRE(s.positions[row] > s.positions[row - 1]);
      } else {
        REQUIRE(s.positions[row] == -1);
      }
    }
  }
  REQUIRE(total == t);
  for (int64_t tok = 0; tok < t; ++tok) REQUIRE(seen[tok] == 1);

  // The last token's owner produces the logits.
  const TokenOwner last = token_owner(plan, t - 1);
  REQUIRE(plan.ranks[last.rank].token_index[last.row] == t - 1);
}

TEST_CASE("shard plan: equal causal work per rank within one chunk", "[cp]") {
  const int n = GENERATE(1, 2, 3, 4);
  const int64_t t = GENERATE_COPY(values<int64_t>({1, 2 * n - 1, 2 * n, 2 * n + 1, 1000, 1001}));
  const int64_t p = GENERATE(0, 500);
  CAPTURE(n, t, p);
  auto plan = make_shard_plan(t, p, n);
  REQUIRE(plan.ok());
  std::vector<int64_t> work(n);
  for (int r = 0; r < n; ++r) work[r] = causal_pairs(plan->ranks[r]);
  CAPTURE(work);
  // One chunk's worth: a chunk of queries against the padded turn (P + 2N*c
  // keys) bounds the difference; only the short tail chunks cause any.
  REQUIRE(spread(work) <= plan->chunk * (p + 2 * n * plan->chunk));
  if (t % (2 * n) == 0) {
    REQUIRE(spread(work) == 0);  // exact when 2N divides T
  }
  // Versus contiguous sharding (rank i gets turn tokens [i*T/N, (i+1)*T/N)):
  // balance is what the chunk pairing buys.
  if (n > 1 && t >= 1000) {
    std::vector<int64_t> contiguous(n, 0);
    for (int64_t tok = 0; tok < t; ++tok) contiguous[tok * n / t] += p + tok + 1;
    CAPTURE(contiguous);
    REQUIRE(spread(work) * 10 < spread(contiguous));
  }
}

TEST_CASE("shard plan: rows scatter to ranks and gather back", "[cp]") {
  const int n = GENERATE(1, 2, 3, 4);
  const int64_t t = GENERATE_COPY(values<int64_t>({1, 2 * n - 1, 2 * n + 1, 1001}));
  CAPTURE(n, t);
  auto plan = make_shard_plan(t, 11, n);
  REQUIRE(plan.ok());
  const size_t width = 3;  // floats per row
  std::vector<float> turn(t * width);
  for (size_t i = 0; i < turn.size(); ++i) turn[i] = static_cast<float>(i);

  const int64_t pc = plan->padded_count;
  std::vector<float> all(n * pc * width, -7.f);
  for (int r = 0; r < n; ++r) {
    float* local = all.data() + r * pc * width;
    scatter_rows(*plan, r, turn.data(), width * sizeof(float), local);
    const RankShard& s = plan->ranks[r];
    for (int64_t row = 0; row < pc; ++row) {
      for (size_t c = 0; c < width; ++c) {
        const float want = row < s.local_count() ? turn[s.token_index[row] * width + c] : 0.f;
        REQUIRE(local[row * width + c] == want);
      }
    }
  }
  std::vector<float> back(t * width, -1.f);
  gather_all_rows(*plan, all.data(), width * sizeof(float), back.data());
  REQUIRE(back == turn);

  // gather_rows of one rank writes only that rank's rows.
  std::vector<float> partial(t * width, -1.f);
  gather_rows(*plan, 0, all.data(), width * sizeof(float), partial.data());
  for (int64_t tok = 0; tok < t; ++tok) {
    const bool mine = plan->owner_rank[tok] == 0;
    REQUIRE(partial[tok * width] == (mine ? turn[tok * width] : -1.f));
  }
}

TEST_CASE("shard plan: small and hand-checked layouts", "[cp]") {
  // T = 5 over N = 2: c = 2, chunks [0,2) [2,4) [4,5) [5,5).
  auto plan = make_shard_plan(5, 100, 2);
  REQUIRE(plan.ok());
  REQUIRE(plan->padded_count == 4);
  REQUIRE(plan->ranks[0].positions == std::vector<int32_t>{100, 101, -1, -1});   // chunks 0, 3
  REQUIRE(plan->ranks[1].positions == std::vector<int32_t>{102, 103, 104, -1});  // chunks 1, 2
  REQUIRE(token_owner(*plan, 4).rank == 1);

  // T = 1 over N = 4: the one token in chunk 0 on rank 0; others only padding.
  auto one = make_shard_plan(1, 9, 4);
  REQUIRE(one.ok());
  REQUIRE(one->padded_count == 2);
  REQUIRE(one->ranks[0].positions == std::vector<int32_t>{9, -1});
  for (int r = 1; r < 4; ++r) REQUIRE(one->ranks[r].positions == std::vector<int32_t>{-1, -1});

  auto empty = make_shard_plan(0, 3, 2);
  REQUIRE(empty.ok());
  REQUIRE(empty->padded_count == 0);

  REQUIRE(make_shard_plan(4, 0, 0).status().code() == StatusCode::kInvalidArgument);
  REQUIRE(make_shard_plan(-1, 0, 2).status().code() == StatusCode::kInvalidArgument);
  REQUIRE(make_shard_plan(4, -2, 2).status().code() == StatusCode::kInvalidArgument);
  REQUIRE(make_shard_plan(10, int64_t{1} << 31, 2).status().code() == StatusCode::kInvalidArgument);
  REQUIRE(make_shard_plan(4, 0, 2, {1, 2, 3}).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("shard plan with loads: slots permuted, largest load gets the smallest slot", "[cp]") {
  // Equal loads: the default plan.
  auto same = make_shard_plan(13, 0, 3, {7, 7, 7});
  REQUIRE(same.ok());
  for (int r = 0; r < 3; ++r) REQUIRE(same->ranks[r].slot == r);
  // T = 5, N = 2: slot 0 has 2 tokens, slot 1 has 3. Rank 0 holding more KV
  // gets slot 0, rank 1 slot 1; reversed loads reverse it.
  auto a = make_shard_plan(5, 0, 2, {10, 0});
  auto b = make_shard_plan(5, 0, 2, {0, 10});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(a->ranks[0].local_count() == 2);
  REQUIRE(a->ranks[1].local_count() == 3);
  REQUIRE(b->ranks[0].local_count() == 3);
  REQUIRE(b->ranks[1].local_count() == 2);
  REQUIRE(b->ranks[0].slot == 1);
  // Still every token once, with its global position.
  for (const auto* plan : {&a.value(), &b.value()}) {
    std::vector<int> seen(5, 0);
    for (const RankShard& s : plan->ranks) {
      for (int64_t row = 0; row < s.local_count(); ++row) {
        ++seen[s.token_index[row]];
        REQUIRE(s.positions[row] == s.token_index[row]);
      }
    }
    REQUIRE(seen == std::vector<int>(5, 1));
  }
}

TEST_CASE("KV stays balanced over turns and round-robin decode", "[cp]") {
  const int n = GENERATE(1, 2, 3, 4);
  const uint32_t seed = GENERATE(1u, 2u, 3u);
  CAPTURE(n, seed);
  std::mt19937 rng(seed * 7919u + n);
  std::uniform_int_distribution<int64_t> len_small(1, 2 * n + 1), len_big(1, 3000);
  std::vector<int64_t> kv(n, 0), kv_default(n, 0);
  int64_t pos = 0;
  uint64_t decode_step = 0;  // the session's decode counter, never reset
  const int turns = 20;
  const uint64_t decode_total = 500;
  int64_t worst = 0;
  for (int turn = 0; turn < turns; ++turn) {
    const int64_t t = (turn % 3 == 0) ? len_small(rng) : len_big(rng);
    auto plan = make_shard_plan(t, pos, n, kv);
    auto plan_default = make_shard_plan(t, pos, n);
    REQUIRE(plan.ok());
    REQUIRE(plan_default.ok());
    for (int r = 0; r < n; ++r) {
      kv[r] += plan->ranks[r].local_count();
      kv_default[r] += plan_default->ranks[r].local_count();
    }
    pos += t;
    // Spread the 500 decode steps unevenly over the turns.
    const uint64_t steps = turn + 1 == turns ? decode_total - decode_step
                                             : std::uniform_int_distribution<uint64_t>(
                                                   0, 2 * decode_total / turns)(rng);
    for (uint64_t s = 0; s < steps && decode_step < decode_total; ++s, ++decode_step) {
      const int owner = decode_owner(decode_step, n);
      ++kv[owner];
      ++kv_default[owner];
      ++pos;
    }
    worst = std::max(worst, spread(kv));
    CAPTURE(turn, t, kv);
    // Bound: the slot-size spread of one turn (< 2N) plus one decode token.
    REQUIRE(spread(kv) <= 2 * n);
  }
  REQUIRE(decode_step == decode_total);
  REQUIRE(std::accumulate(kv.begin(), kv.end(), int64_t{0}) == pos);
  INFO("largest spread " << worst << "; rank-i-on-slot-i plan ends at " << spread(kv_default));
  SUCCEED();
}

TEST_CASE("decode ownership rotates round-robin", "[cp]") {
  REQUIRE(decode_owner(0, 1) == 0);
  REQUIRE(decode_owner(12345, 1) == 0);
  for (int n = 2; n <= 4; ++n) {
    std::vector<int> count(n, 0);
    for (uint64_t s = 0; s < static_cast<uint64_t>(4 * n + 1); ++s) {
      REQUIRE(decode_owner(s, n) == static_cast<int>(s % n));
      REQUIRE(decode_owner(s, n, 1) == static_cast<int>((s + 1) % n));
      ++count[decode_owner(s, n)];
    }
    REQUIRE(*std::max_element(count.begin(), count.end()) -
                *std::min_element(count.begin(), count.end()) <=
            1);
  }
  REQUIRE(decode_owner(UINT64_MAX, 3) == static_cast<int>(UINT64_MAX % 3));
}
