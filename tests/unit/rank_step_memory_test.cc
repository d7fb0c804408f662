// A rank that cannot get the memory of a step fails the step on every rank,
// with a status, before the ring starts: midway through the ring its peers
// would wait for its messages until the deadline and the group would be
// lost. Each allocation of a step on one rank is refused in turn, on ranks
// built as RankGroup builds them (make_rank, loopback Gloo, CPU backends),
// also for a copied sequence whose turn first copies the page it shares.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "forwarding_backend.h"
#include "test_ranks.h"

using namespace ringlm;

namespace {

// A CPU backend that, while armed, refuses the fail_at-th allocation (1-based)
// counted from arming. It forwards the CPU backend's own fused and block ops
// (the Backend defaults of some allocate, which the CPU backend does not);
// without `blocks` it has no attention over key blocks, so CP decode gathers
// the KV shard as on such backends.
class FaultyBackend final : public test::ForwardingBackend {
 public:
  FaultyBackend(bool host_memory, bool blocks)
      : ForwardingBackend(make_cpu_backend({1}), host_memory), cpu_(&inner()), blocks_(blocks) {}

  void arm(int fail_at) {
    count_ = 0;
    fail_at_ = fail_at;
  }
  int allocations() const { return count_; }

  Result<Buffer> alloc(size_t bytes) override {
    const int k = ++count_;
    if (fail_at_ > 0 && k == fail_at_)
      return ResourceExhausted("test: allocation " + std::to_string(k) + " refused");
    return ForwardingBackend::alloc(bytes);
  }
  Status matmul_add(const float* x, const Weight& w, float* y, int64_t m) override {
    return cpu_->matmul_add(x, w, y, m);
  }
  Status swiglu_matmul_add(float* gate, const float* up, const Weight& w, float* y,
                           int64_t m) override {
    return cpu_->swiglu_matmul_add(gate, up, w, y, m);
  }
  bool has_attention_blocks() const override { return blocks_ && cpu_->has_attention_blocks(); }
  Status attention_partial_blocks(const kernels::AttentionParams& p,
                                  const kernels::KeyBlock* blocks, size_t n) override {
    return cpu_->attention_partial_blocks(p, blocks, n);
  }
  Status gather_blocks(const kernels::KeyBlock* blocks, size_t n, int64_t row_bytes, void* k,
                       void* v, int32_t* pos) override {
    return cpu_->gather_blocks(blocks, n, row_bytes, k, v, pos);
  }

 private:
  Backend* cpu_;
  bool blocks_;
  std::atomic<int> count_{0};
  std::atomic<int> fail_at_{0};
};

// n ranks on FaultyBackends.
class Group {
 public:
  Group(int n, bool host_memory, bool blocks, const LlamaModel& model) {
    EngineOptions o;
    o.world_size = n;
    o.kv_page_tokens = 16;
    o.comm_timeout = std::chrono::seconds(30);
    std::vector<std::unique_ptr<Backend>> backends;
    for (int r = 0; r < n; ++r) {
      auto be = std::make_unique<FaultyBackend>(host_memory, blocks);
      faulty_.push_back(be.get());
      backends.push_back(std::move(be));
    }
    ranks_ = std::make_unique<test::TestRanks>(o, model, std::move(backends));
  }

  RankExecutor& leader() { return ranks_->leader(); }
  FaultyBackend& backend(int r) { return *faulty_[r]; }
  std::vector<int64_t> kv_tokens(SeqId seq) { return ranks_->kv_tokens(seq); }

 private:
  std::vector<FaultyBackend*> faulty_;  // owned by ranks_
  std::unique_ptr<test::TestRanks> ranks_;
};

std::vector<int32_t> prompt_tokens(int n) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 37 + 11) % 300;
  return t;
}

StepOutcome prefill(Group& g, SeqId seq, const std::vector<int32_t>& tokens, int32_t start,
                    CpVariant variant) {
  return g.leader().lead(make_step_plan(fb::StepKind::Prefill, seq, tokens, start, variant, 0, 0,
                                        /*want_logits=*/true));
}

StepOutcome decode(Group& g, SeqId seq, int32_t token, int32_t pos, int owner,
                   DecodeVariant variant) {
  return g.leader().lead(make_step_plan(fb::StepKind::Decode, seq, {&token, 1}, pos,
                                        CpVariant::kAuto, owner, 0, /*want_logits=*/true,
                                        variant));
}

// Refuses allocation k = 1, 2, ... of one step on rank `victim` until the
// step needs fewer; every refused step must fail with the refusal's status
// (not a deadline), leave every rank's KV as it was, and let the same step
// run cleanly next with the logits of a run that never failed. Returns how
// many allocations the step made on the victim.
template <typename Step>
int sweep(Group& g, int victim, SeqId seq, const Step& step, const std::vector<float>& want) {
  const std::vector<int64_t> kv_before = g.kv_tokens(seq);
  for (int k = 1; k <= 500; ++k) {
    CAPTURE(k);
    g.backend(victim).arm(k);
    StepOutcome o = step();
    const int made = g.backend(victim).allocations();
    g.backend(victim).arm(0);
    if (o.status.ok()) {
      REQUIRE(o.logits == want);
      REQUIRE(made < k);  // no allocation was refused
      return made;
    }
    INFO(o.status.ToString());
    REQUIRE(o.status.code() == StatusCode::kResourceExhausted);
    REQUIRE(g.kv_tokens(seq) == kv_before);
  }
  FAIL("a step that allocates more than 500 times");
  return 0;
}

}  // namespace

TEST_CASE("a rank short of memory fails the step in its reservation, and the group goes on",
          "[cp][memory]") {
  const int n = GENERATE(2, 3);
  const bool host_memory = GENERATE(true, false);  // false: messages staged via host copies
  const bool blocks = GENERATE(true, false);  // false: decode gathers the shard
  const int victim = GENERATE_COPY(0, n - 1);
  if (!host_memory && !blocks) return;  // a subset of the grid suffices
  CAPTURE(n, host_memory, blocks, victim);

  auto model_backend = make_cpu_backend({1});
  auto model = LlamaModel::Random(test::tiny_random_config(), *model_backend, 7);
  REQUIRE(model.ok());
  Group g(n, host_memory, blocks, *model.value());
  const std::vector<int32_t> first = prompt_tokens(29), second = prompt_tokens(13);

  for (CpVariant variant : {CpVariant::kPassKV, CpVariant::kPassQ}) {
    for (DecodeVariant dv : {DecodeVariant::kAllGather, DecodeVariant::kRingPassQ}) {
      CAPTURE(cp_variant_name(variant), decode_variant_name(dv));
      // Logits of steps that never failed, on sequence 1.
      StepOutcome a = prefill(g, 1, first, 0, variant);
      REQUIRE(a.status.ok());
      // Sequences 3 and 4: copies of 1 after its first turn, sharing its
      // pages (with each other still, once 1 has written into its own).
      REQUIRE(g.leader().lead(make_copy_plan(1, 3)).status.ok());
      REQUIRE(g.leader().lead(make_copy_plan(1, 4)).status.ok());
      StepOutcome b = prefill(g, 1, second, 29, variant);  // a second turn over cached KV
      REQUIRE(b.status.ok());
      StepOutcome c = decode(g, 1, 5, 42, 1 % n, dv);
      REQUIRE(c.status.ok());

      // The same steps on sequence 2, each with its allocations refused in turn.
      const int made_first =
          sweep(g, victim, 2, [&] { return prefill(g, 2, first, 0, variant); }, a.logits);
      const int made_second =
          sweep(g, victim, 2, [&] { return prefill(g, 2, second, 29, variant); }, b.logits);
      sweep(g, victim, 2, [&] { return decode(g, 2, 5, 42, 1 % n, dv); }, c.logits);
      REQUIRE(made_first > 0);  // the sweep refused something
      REQUIRE(made_second > 0);
      // The copy's turns first copy the shared page their tokens go into
      // (copy on write): that allocation is refused in turn too.
      sweep(g, victim, 3, [&] { return prefill(g, 3, second, 29, variant); }, b.logits);
      sweep(g, victim, 3, [&] { return decode(g, 3, 5, 42, 1 % n, dv); }, c.logits);

      for (SeqId s : {SeqId(1), SeqId(2), SeqId(3), SeqId(4)})
        REQUIRE(g.leader().lead(make_step_plan(fb::StepKind::Drop, s)).status.ok());
    }
  }
}
