// Followers leave a group whose leader says nothing for the leader timeout
// (a leader host that vanished without closing its connections), and an
// idle leader's heartbeats keep them in it, also between the steps of a turn.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "runtime/leader_heartbeat.h"
#include "test_ranks.h"
#include "test_util.h"

using namespace ringlm;
using namespace std::chrono_literals;

namespace {

constexpr auto kLeaderTimeout = 1000ms;  // heartbeats every 250 ms: room for a loaded CI host

// Followers configured with `follower_timeout`; the leader's (kLeaderTimeout)
// holds for the group.
std::unique_ptr<test::TestRanks> start(int n, const LlamaModel& model,
                                       std::chrono::milliseconds follower_timeout = kLeaderTimeout) {
  std::vector<EngineOptions> opts(n);
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < n; ++r) {
    opts[r].world_size = n;
    opts[r].comm_timeout = std::chrono::seconds(20);
    opts[r].leader_timeout = r == 0 ? std::chrono::milliseconds(kLeaderTimeout) : follower_timeout;
    backends.push_back(make_cpu_backend({1}));
  }
  return std::make_unique<test::TestRanks>(opts, model, std::move(backends));
}

StepOutcome prefill(test::TestRanks& g, const std::vector<int32_t>& tokens) {
  return g.leader().lead(make_step_plan(fb::StepKind::Prefill, 1, tokens, 0, CpVariant::kPassKV,
                                        0, 0, /*want_logits=*/true));
}

}  // namespace

TEST_CASE("heartbeats keep an idle leader's followers in the group", "[rank][heartbeat]") {
  auto be = make_cpu_backend({1});
  auto model = LlamaModel::Random(test::tiny_random_config(), *be, 3);
  REQUIRE(model.ok());
  auto g = start(3, *model.value());
  LeaderHeartbeat heartbeat(g->leader(), kLeaderTimeout / 4);

  const std::vector<int32_t> tokens{1, 2, 3, 4, 5, 6, 7, 8, 9};
  REQUIRE(prefill(*g, tokens).status.ok());
  // A host application that takes its time between two steps of a turn (a
  // slow stream callback), then idles between turns: five leader timeouts.
  std::this_thread::sleep_for(kLeaderTimeout * 5);
  REQUIRE(g->followers_done() == 0);
  const int32_t token = 10;
  StepOutcome d = g->leader().lead(make_step_plan(fb::StepKind::Decode, 1, {&token, 1}, 9,
                                                  CpVariant::kAuto, 1, 0, true));
  INFO(d.status.ToString());
  REQUIRE(d.status.ok());
  REQUIRE(heartbeat.status().ok());
  const std::vector<int64_t> kv = g->kv_tokens(1);
  REQUIRE(kv[0] + kv[1] + kv[2] == 10);  // 9 prefilled, 1 decoded
}

TEST_CASE("followers leave a silent leader with UNAVAILABLE", "[rank][heartbeat]") {
  auto be = make_cpu_backend({1});
  auto model = LlamaModel::Random(test::tiny_random_config(), *be, 3);
  REQUIRE(model.ok());
  // The followers' own setting (an hour) gives way to the leader's.
  auto g = start(3, *model.value(), std::chrono::hours(1));
  REQUIRE(prefill(*g, {1, 2, 3}).status.ok());
  // No heartbeat: the leader is as silent as a host that vanished.
  const auto t0 = std::chrono::steady_clock::now();
  while (g->followers_done() < 2 && std::chrono::steady_clock::now() - t0 < 30s)
    std::this_thread::sleep_for(10ms);
  const auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE(g->followers_done() == 2);
  REQUIRE(waited >= kLeaderTimeout / 2);  // they waited their timeout out first
  for (int r = 1; r < 3; ++r) {
    const Status st = g->served(r);
    INFO(st.ToString());
    REQUIRE(st.code() == StatusCode::kUnavailable);
    REQUIRE(st.message().find("no word from the leader") != std::string::npos);
  }
}

TEST_CASE("a leader timeout too short to heartbeat in is refused", "[rank][heartbeat]") {
  EngineOptions o;
  o.leader_timeout = 100ms;
  REQUIRE(check_engine_options(o).code() == StatusCode::kInvalidArgument);
  o.leader_timeout = kMinLeaderTimeout;
  REQUIRE(check_engine_options(o).ok());
  o.leader_timeout = std::chrono::hours(24 * 365);  // beyond the 30-day cap
  REQUIRE(check_engine_options(o).code() == StatusCode::kInvalidArgument);
}
