// cpu::merge_partials: merging the partial attentions of any partition of the
// keys, in any order, equals attention over all keys (out and LSE); and the
// -inf cases of the merge rule.
//
// Tolerance: |got - ref| <= 1e-5 * (1 + |ref|) against the float64 reference
// attention over all keys.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "cpu/attention_partial.h"
#include "cpu/merge_partials.h"
#include "reference_attention.h"
#include "test_util.h"

namespace ringlm {
namespace {

using kernels::AttentionParams;
using kernels::MergeParams;

constexpr double kTol = 1e-5;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool close(double got, double ref) { return std::fabs(got - ref) <= kTol * (1.0 + std::fabs(ref)); }

}  // namespace

TEST_CASE("merge_partials: any partition of the keys, merged in any order, is exact",
          "[merge]") {
  const int blocks = GENERATE(1, 2, 3, 5, 8);
  const bool causal = GENERATE(true, false);
  const int64_t tq = GENERATE(1, 37, 130);
  const uint32_t seed = GENERATE(1u, 2u, 3u);
  const int64_t tk = 260;
  const int hq = 9, hkv = 3, d = 64;
  INFO("blocks=" << blocks << " causal=" << causal << " tq=" << tq << " seed=" << seed);
  std::mt19937 rng(seed);

  // All keys: positions 0..tk-1 in random order, 10% padding; queries at the end.
  const auto q = test::random_floats(size_t(tq * hq * d), seed + 10);
  const auto k = test::random_floats(size_t(tk * hkv * d), seed + 11);
  const auto v = test::random_floats(size_t(tk * hkv * d), seed + 12);
  std::vector<int32_t> k_pos(tk), q_pos(tq);
  std::iota(k_pos.begin(), k_pos.end(), 0);
  std::shuffle(k_pos.begin(), k_pos.end(), rng);
  std::bernoulli_distribution pad(0.1);
  for (auto& p : k_pos) if (pad(rng)) p = -1;
  for (int64_t i = 0; i < tq; ++i) q_pos[i] = int32_t(tk - tq + i);
  q_pos[0] = -1;  // one padding query row: -inf in every block

  AttentionParams all;
  all.q = q.data();
  all.q_pos = q_pos.data();
  all.k = k.data();
  all.v = v.data();
  all.k_pos = k_pos.data();
  all.tq = tq;
  all.tk = tk;
  all.hq = hq;
  all.hkv = hkv;
  all.d = d;
  all.scale = 0.125f;
  all.causal = causal;
  std::vector<double> ref_out, ref_lse;
  test::reference_attention(all, ref_out, ref_lse);

  // Random assignment of keys to blocks (so blocks are scattered subsets and
  // some may be empty), plus an empty block (tk = 0) and a last block that no
  // query can see.
  std::uniform_int_distribution<int> pick(0, blocks - 1);
  std::vector<std::vector<int64_t>> members(size_t(blocks) + 2);
  for (int64_t j = 0; j < tk; ++j) members[size_t(pick(rng))].push_back(j);
  for (int64_t j = 0; j < 5; ++j) members.back().push_back(j);  // re-used keys, masked below
  std::vector<size_t> order(members.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);

  const int64_t rows = tq * hq;
  std::vector<float> acc_out(size_t(rows * d), 0.f), acc_lse(size_t(rows), kNegInf);
  for (size_t b : order) {
    const bool masked_block = b + 1 == members.size();
    const auto& js = members[b];
    const int64_t n = int64_t(js.size());
    std::vector<float> bk(size_t(n * hkv * d)), bv(size_t(n * hkv * d));
    std::vector<int32_t> bpos(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) {
      std::copy_n(k.data() + js[t] * hkv * d, hkv * d, bk.data() + t * hkv * d);
      std::copy_n(v.data() + js[t] * hkv * d, hkv * d, bv.data() + t * hkv * d);
      // The extra block: padding when not causal, positions after every query when causal.
      bpos[t] = masked_block ? (causal ? int32_t(tk + 100 + t) : -1) : k_pos[js[t]];
    }
    std::vector<float> o(size_t(rows * d)), lse(static_cast<size_t>(rows));
    AttentionParams p = all;
    p.k = bk.data();
    p.v = bv.data();
    p.k_pos = bpos.data();
    p.tk = n;
    p.out = o.data();
    p.lse = lse.data();
    kernels::cpu::attention_partial(p);
    MergeParams m;
    m.acc_out = acc_out.data();
    m.acc_lse = acc_lse.data();
    m.out = o.data();
    m.lse = lse.data();
    m.rows = rows;
    m.d = d;
    kernels::cpu::merge_partials(m);
  }

  int bad = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (std::isinf(ref_lse[r])) {
      CHECK((std::isinf(acc_lse[r]) && acc_lse[r] < 0));
      for (int c = 0; c < d; ++c) bad += acc_out[r * d + c] != 0.f;
      continue;
    }
    bad += !close(acc_lse[r], ref_lse[r]);
    for (int c = 0; c < d; ++c) bad += !close(acc_out[r * d + c], ref_out[r * d + c]);
  }
  CHECK(bad == 0);
}

TEST_CASE("merge_partials: -inf on either or both sides", "[merge]") {
  const int d = 4;
  // Rows: (acc finite, part -inf), (acc -inf, part finite), (both -inf), (both finite).
  std::vector<float> acc_out = {1, 2, 3, 4, 9, 9, 9, 9, 7, 7, 7, 7, 1, 1, 1, 1};
  std::vector<float> acc_lse = {0.5f, kNegInf, kNegInf, 0.f};
  std::vector<float> out = {8, 8, 8, 8, 5, 6, 7, 8, 3, 3, 3, 3, 3, 3, 3, 3};
  std::vector<float> lse = {kNegInf, 2.f, kNegInf, 0.f};
  MergeParams m{acc_out.data(), acc_lse.data(), out.data(), lse.data(), 4, d};
  kernels::cpu::merge_partials(m);
  CHECK(acc_lse[0] == 0.5f);
  CHECK(std::vector<float>(acc_out.begin(), acc_out.begin() + 4) == std::vector<float>{1, 2, 3, 4});
  CHECK(acc_lse[1] == 2.f);
  CHECK(std::vector<float>(acc_out.begin() + 4, acc_out.begin() + 8) ==
        std::vector<float>{5, 6, 7, 8});
  CHECK((std::isinf(acc_lse[2]) && acc_lse[2] < 0));
  for (int c = 8; c < 12; ++c) CHECK(acc_out[c] == 0.f);
  // Equal LSEs: the average, and LSE + log 2.
  CHECK(acc_lse[3] == Approx(std::log(2.f)).epsilon(1e-7));
  for (int c = 12; c < 16; ++c) CHECK(acc_out[c] == Approx(2.f).epsilon(1e-6));
}

TEST_CASE("merge_partials: large and very different LSEs do not overflow", "[merge]") {
  const int d = 3;
  const std::vector<std::pair<float, float>> pairs = {
      {1e4f, 1e4f + 1.f}, {-1e4f, -1e4f - 3.f}, {80.f, -80.f}, {200.f, 5.f}, {3.f, 300.f}};
  for (auto [a, b] : pairs) {
    std::vector<float> acc_out = {1.f, -1.f, 0.5f}, acc_lse = {a};
    std::vector<float> out = {-2.f, 4.f, 0.25f}, lse = {b};
    std::vector<double> racc(acc_out.begin(), acc_out.end()), rlse = {a};
    std::vector<double> rout(out.begin(), out.end()), rl = {b};
    test::reference_merge(racc, rlse, rout, rl, 1, d);
    MergeParams m{acc_out.data(), acc_lse.data(), out.data(), lse.data(), 1, d};
    kernels::cpu::merge_partials(m);
    INFO("a=" << a << " b=" << b);
    CHECK(close(acc_lse[0], rlse[0]));
    for (int c = 0; c < d; ++c) CHECK(close(acc_out[c], racc[c]));
  }
}

}  // namespace ringlm
