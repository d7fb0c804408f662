// LocalAttention (one rank over its paged KV store) on its three paths: the
// gathered sequence (>= 64 query rows), one call over all pages (backends with
// attention over key blocks), and one call per page merged by LSE (backends
// without); with f32 and bf16 K/V. Each step's queries attend to earlier
// steps' tokens and causally to their own; the result equals the float64
// reference over the stored (rounded) K/V, and every attention call carries
// correct host copies of its positions.
#include "runtime/local_attention.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "forwarding_backend.h"
#include "kv/paged_kv_store.h"
#include "position_hints.h"
#include "reference_attention.h"
#include "test_util.h"

using namespace ringlm;
using kernels::KvType;

namespace {

// Forwards to the CPU backend, optionally without attention over key blocks,
// and checks the host position copies of every attention call.
class CheckingBackend final : public test::ForwardingBackend {
 public:
  CheckingBackend(bool blocks) : ForwardingBackend(make_cpu_backend({1}), true), blocks_(blocks) {}

  int calls = 0;
  test::PositionHintCheck hints;

  bool has_attention_blocks() const override { return blocks_; }
  Status attention_partial_blocks(const kernels::AttentionParams& p,
                                  const kernels::KeyBlock* blocks, size_t n) override {
    return inner().attention_partial_blocks(p, blocks, n);
  }
  Status gather_blocks(const kernels::KeyBlock* blocks, size_t n, int64_t row_bytes, void* k,
                       void* v, int32_t* pos) override {
    return inner().gather_blocks(blocks, n, row_bytes, k, v, pos);
  }
  Status attention_partial(const kernels::AttentionParams& p) override {
    ++calls;
    hints.check(p, true);
    return inner().attention_partial(p);
  }

 private:
  bool blocks_;
};

}  // namespace

TEST_CASE("local attention over the paged store, every path", "[attention][kv]") {
  const KvType type = GENERATE(KvType::kF32, KvType::kBF16);
  const bool blocks = GENERATE(true, false);
  const int64_t n = GENERATE(5, 70);  // 70: the gathered path
  CAPTURE(kernels::kv_type_name(type), blocks, n);
  ModelConfig cfg;
  cfg.n_layers = 1;
  cfg.n_heads = 4;
  cfg.n_kv_heads = 2;
  cfg.head_dim = 16;
  const int64_t q_row = int64_t(cfg.n_heads) * cfg.head_dim;
  const int64_t kv_row = int64_t(cfg.n_kv_heads) * cfg.head_dim;
  CheckingBackend be(blocks);
  PagedKvOptions o;
  o.shape = KvShape{1, cfg.n_kv_heads, cfg.head_dim, type};
  o.page_tokens = 16;  // several pages, the last one partly filled
  auto kv = make_paged_kv_store(be, o);
  REQUIRE(kv->create(1).ok());

  // Two steps: 23 tokens, then n more; the second step is checked.
  std::vector<float> all_k, all_v;  // as stored
  std::vector<int32_t> all_pos;
  std::vector<float> q, out;
  std::vector<int32_t> q_pos;
  for (int64_t step_n : {int64_t(23), n}) {
    q_pos.resize(step_n);
    for (int64_t i = 0; i < step_n; ++i) q_pos[i] = int32_t(all_pos.size() + i);
    auto first = kv->append(1, q_pos.data(), step_n);
    REQUIRE(first.ok());
    q = test::random_floats(size_t(step_n * q_row), uint32_t(step_n));
    const auto k = test::random_floats(size_t(step_n * kv_row), uint32_t(step_n + 1));
    const auto v = test::random_floats(size_t(step_n * kv_row), uint32_t(step_n + 2));
    for (float x : k) all_k.push_back(test::kv_stored(x, type));
    for (float x : v) all_v.push_back(test::kv_stored(x, type));
    all_pos.insert(all_pos.end(), q_pos.begin(), q_pos.end());
    out.assign(q.size(), -7.f);
    LocalAttention attn(be, *kv, 1, cfg, q_pos.data(), q_pos.data(), step_n, *first, step_n);
    REQUIRE(attn.attend(0, q.data(), k.data(), v.data(), out.data()).ok());
  }
  CHECK((be.calls > 0) == (!blocks || n >= LocalAttention::kGatherRows));
  CHECK(be.hints.unhinted == 0);
  CHECK(be.hints.wrong == 0);

  kernels::AttentionParams p;
  p.q = q.data();
  p.q_pos = q_pos.data();
  p.k = all_k.data();
  p.v = all_v.data();
  p.k_pos = all_pos.data();
  p.tq = n;
  p.tk = int64_t(all_pos.size());
  p.hq = cfg.n_heads;
  p.hkv = cfg.n_kv_heads;
  p.d = cfg.head_dim;
  p.scale = 1.f / std::sqrt(float(cfg.head_dim));
  std::vector<double> ref_out, ref_lse;
  test::reference_attention(p, ref_out, ref_lse);
  double worst = 0;
  for (size_t i = 0; i < out.size(); ++i)
    worst = std::max(worst, std::abs(out[i] - ref_out[i]) / (1.0 + std::abs(ref_out[i])));
  CAPTURE(worst);
  CHECK(worst <= 1e-5);
}
