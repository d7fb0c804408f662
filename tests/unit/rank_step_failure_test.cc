// A rank whose backend fails inside the layers of a step (after the ranks
// agreed to run it) cannot keep the step's sequence of exchanges with its
// peers. It must fail the step with a status, promptly and without taking
// the process down: before, a peer's layer message reached its report's
// receive and Gloo aborted the process (decode, pass-Q), or the peers waited
// for the step deadline (pass-KV). Ranks as RankGroup builds them (loopback
// Gloo, CPU backends).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "forwarding_backend.h"
#include "test_ranks.h"

using namespace ringlm;

namespace {

// A CPU backend that, while armed, fails its fail_at-th attention call
// (1-based, counted from arming), as a device error would.
class FailingBackend final : public test::ForwardingBackend {
 public:
  FailingBackend() : ForwardingBackend(make_cpu_backend({1}), true), cpu_(&inner()) {}

  void arm(int fail_at) {
    count_ = 0;
    fail_at_ = fail_at;
  }

  Status attention_partial(const kernels::AttentionParams& p) override {
    RINGLM_RETURN_IF_ERROR(count());
    return cpu_->attention_partial(p);
  }
  bool has_attention_blocks() const override { return cpu_->has_attention_blocks(); }
  Status attention_partial_blocks(const kernels::AttentionParams& p,
                                  const kernels::KeyBlock* blocks, size_t n) override {
    RINGLM_RETURN_IF_ERROR(count());
    return cpu_->attention_partial_blocks(p, blocks, n);
  }
  Status gather_blocks(const kernels::KeyBlock* blocks, size_t n, int64_t row_bytes, void* k,
                       void* v, int32_t* pos) override {
    return cpu_->gather_blocks(blocks, n, row_bytes, k, v, pos);
  }

 private:
  Status count() {
    if (fail_at_ > 0 && ++count_ == fail_at_) return Internal("test: attention call refused");
    return Status::Ok();
  }

  Backend* cpu_;
  std::atomic<int> count_{0};
  std::atomic<int> fail_at_{0};
};

std::vector<int32_t> tokens(int n) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 37 + 11) % 300;
  return t;
}

}  // namespace

TEST_CASE("a rank failing inside the layers fails the step with a status, at once",
          "[cp][failure]") {
  const int victim = GENERATE(0, 1);
  const int step = GENERATE(0, 1, 2, 3);  // prefill pass-KV / pass-Q, decode all-gather / pass-Q
  const int fail_at = GENERATE(1, 2);  // the first call, or a later one (2 layers)
  CAPTURE(victim, step, fail_at);

  auto model_backend = make_cpu_backend({1});
  auto model = LlamaModel::Random(test::tiny_random_config(), *model_backend, 7);
  REQUIRE(model.ok());
  EngineOptions o;
  o.world_size = 2;
  o.kv_page_tokens = 16;
  o.comm_timeout = std::chrono::seconds(60);
  std::vector<FailingBackend*> failing;
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < 2; ++r) {
    auto be = std::make_unique<FailingBackend>();
    failing.push_back(be.get());
    backends.push_back(std::move(be));
  }
  test::TestRanks g(o, *model.value(), std::move(backends));

  const CpVariant pv = step == 1 ? CpVariant::kPassQ : CpVariant::kPassKV;
  REQUIRE(g.leader()
              .lead(make_step_plan(fb::StepKind::Prefill, 1, tokens(21), 0, pv, 0, 0, true))
              .status.ok());
  failing[size_t(victim)]->arm(fail_at);
  const auto start = std::chrono::steady_clock::now();
  StepOutcome out;
  if (step < 2) {
    out = g.leader().lead(make_step_plan(fb::StepKind::Prefill, 1, tokens(9), 21, pv, 0, 0, true));
  } else {
    const int32_t token = 5;
    const DecodeVariant dv = step == 3 ? DecodeVariant::kRingPassQ : DecodeVariant::kAllGather;
    out = g.leader().lead(make_step_plan(fb::StepKind::Decode, 1, {&token, 1}, 21,
                                         CpVariant::kAuto, 1, 0, true, dv));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(out.status.ToString());
  CHECK_FALSE(out.status.ok());
  // Not the step deadline: the failing rank aborted the group's comms.
  CHECK(out.status.code() != StatusCode::kDeadlineExceeded);
  CHECK(seconds < 30);
  if (victim == 0) CHECK_THAT(out.status.message(), Catch::Contains("attention call refused"));
  // The group is lost: the next step says so with a status, and the
  // followers' loops have ended.
  failing[size_t(victim)]->arm(0);
  StepOutcome next = g.leader().lead(make_step_plan(fb::StepKind::Drop, 1));
  CHECK_FALSE(next.status.ok());
}
