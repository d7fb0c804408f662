// cpu::attention_partial against the float64 reference, over mask cases, GQA
// ratios, head dims, lengths and position offsets.
//
// Tolerance: |got - ref| <= 1e-5 * (1 + |ref|) for every output element and
// every LSE, i.e. 1e-5 relative (absolute near 0). The kernel computes in
// float with a polynomial exp; the reference in double.
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/attention_partial.h"
#include "reference_attention.h"
#include "test_util.h"

namespace ringlm {
namespace {

using kernels::AttentionParams;

constexpr double kTol = 1e-5;

enum class Mask {
  kFull,               // no causal mask, every key visible
  kCausal,             // queries are the last tq positions of the keys
  kCausalPadding,      // causal, ~20% of keys and ~10% of query rows padded (pos -1)
  kSomeRowsSeeNothing, // causal, the first query rows sit before every key
  kAllPadding,         // every key padded
  kQueriesBeforeKeys,  // causal, every query precedes every key: all rows -inf
  kGapsUnsorted,       // causal, key positions with gaps in random order, queries unsorted
};

const char* mask_name(Mask m) {
  switch (m) {
    case Mask::kFull: return "full";
    case Mask::kCausal: return "causal";
    case Mask::kCausalPadding: return "causal+padding";
    case Mask::kSomeRowsSeeNothing: return "some rows see nothing";
    case Mask::kAllPadding: return "all padding";
    case Mask::kQueriesBeforeKeys: return "queries before keys";
    case Mask::kGapsUnsorted: return "gaps, unsorted";
  }
  return "?";
}

struct Case {
  int64_t tq, tk;
  int hq, hkv, d;
  Mask mask;
  int32_t offset = 0;   // added to every valid position
  float q_gain = 1.f;   // > 1 makes the softmax peaky
};

struct Inputs {
  std::vector<float> q, k, v;
  std::vector<uint16_t> k16, v16;  // k and v rounded to bf16 (a bf16 KV cache)
  std::vector<int32_t> q_pos, k_pos;
  bool causal = true;
};


Inputs make_inputs(const Case& c, uint32_t seed) {
  Inputs in;
  in.q = test::random_floats(size_t(c.tq * c.hq * c.d), seed, -c.q_gain, c.q_gain);
  in.k = test::random_floats(size_t(c.tk * c.hkv * c.d), seed + 1);
  in.v = test::random_floats(size_t(c.tk * c.hkv * c.d), seed + 2);
  in.q_pos.resize(size_t(c.tq));
  in.k_pos.resize(size_t(c.tk));
  std::mt19937 rng(seed + 3);
  const int32_t o = c.offset;
  const int64_t shift = std::max<int64_t>(0, c.tk - c.tq);  // queries end where keys end
  for (int64_t j = 0; j < c.tk; ++j) in.k_pos[j] = o + int32_t(j);
  for (int64_t i = 0; i < c.tq; ++i) in.q_pos[i] = o + int32_t(shift + i);
  switch (c.mask) {
    case Mask::kFull:
      in.causal = false;
      break;
    case Mask::kCausal:
      break;
    case Mask::kCausalPadding: {
      std::bernoulli_distribution pad_k(0.2), pad_q(0.1);
      for (auto& p : in.k_pos) if (pad_k(rng)) p = -1;
      for (auto& p : in.q_pos) if (pad_q(rng)) p = -1;
      break;
    }
    case Mask::kSomeRowsSeeNothing:
      for (int64_t i = 0; i < c.tq; ++i) in.q_pos[i] = o - 3 + int32_t(i);
      break;
    case Mask::kAllPadding:
      std::fill(in.k_pos.begin(), in.k_pos.end(), -1);
      break;
    case Mask::kQueriesBeforeKeys:
      for (int64_t j = 0; j < c.tk; ++j) in.k_pos[j] = o + 1000 + int32_t(j);
      for (int64_t i = 0; i < c.tq; ++i) in.q_pos[i] = o + int32_t(i % 1000);
      break;
    case Mask::kGapsUnsorted: {
      for (int64_t j = 0; j < c.tk; ++j) in.k_pos[j] = o + 3 * int32_t(j) + int32_t(j % 2);
      std::shuffle(in.k_pos.begin(), in.k_pos.end(), rng);
      std::uniform_int_distribution<int32_t> qp(o - 2, o + 3 * int32_t(c.tk) + 2);
      for (auto& p : in.q_pos) p = qp(rng);
      break;
    }
  }
  return in;
}

// K/V of type kv: the f32 inputs, or their bf16 roundings (which the
// reference then reads too, so the tolerance is the same).
AttentionParams params_for(const Case& c, Inputs& in, std::vector<float>& out,
                           std::vector<float>& lse, kernels::KvType kv = kernels::KvType::kF32) {
  out.assign(size_t(c.tq * c.hq * c.d), 12345.f);  // garbage: every element must be written
  lse.assign(size_t(c.tq * c.hq), 12345.f);
  AttentionParams p;
  p.q = in.q.data();
  p.q_pos = in.q_pos.data();
  p.k = in.k.data();
  p.v = in.v.data();
  p.kv = kv;
  if (kv == kernels::KvType::kBF16) {
    in.k16 = test::to_bf16(in.k);
    in.v16 = test::to_bf16(in.v);
    p.k = in.k16.data();
    p.v = in.v16.data();
  }
  p.k_pos = in.k_pos.data();
  p.out = out.data();
  p.lse = lse.data();
  p.tq = c.tq;
  p.tk = c.tk;
  p.hq = c.hq;
  p.hkv = c.hkv;
  p.d = c.d;
  p.scale = 1.f / std::sqrt(float(c.d));
  p.causal = in.causal;
  return p;
}

// Checks out/lse against the reference; returns the number of rows (token,
// head) that saw no key, for the callers' sanity checks.
int64_t check_against_reference(const AttentionParams& p, const std::vector<float>& out,
                                const std::vector<float>& lse) {
  std::vector<double> ref_out, ref_lse;
  test::reference_attention(p, ref_out, ref_lse);
  int64_t empty_rows = 0;
  double worst = 0.0;
  size_t worst_at = 0;
  for (size_t r = 0; r < ref_lse.size(); ++r) {
    if (std::isinf(ref_lse[r])) {
      ++empty_rows;
      if (!(std::isinf(lse[r]) && lse[r] < 0)) {
        FAIL_CHECK("row " << r << ": expected lse -inf, got " << lse[r]);
      }
      for (int c = 0; c < p.d; ++c) {
        if (out[r * p.d + c] != 0.f) {
          FAIL_CHECK("row " << r << " sees no key but out[" << c << "] = " << out[r * p.d + c]);
          break;
        }
      }
      continue;
    }
    const double e = std::fabs(double(lse[r]) - ref_lse[r]) / (1.0 + std::fabs(ref_lse[r]));
    if (e > worst) worst = e, worst_at = r;
    for (int c = 0; c < p.d; ++c) {
      const double ref = ref_out[r * p.d + c];
      const double eo = std::fabs(double(out[r * p.d + c]) - ref) / (1.0 + std::fabs(ref));
      if (eo > worst) worst = eo, worst_at = r;
    }
  }
  INFO("worst relative error " << worst << " at row " << worst_at);
  CHECK(worst <= kTol);
  return empty_rows;
}

void run_case(const Case& c, uint32_t seed = 7, kernels::KvType kv = kernels::KvType::kF32) {
  INFO("tq=" << c.tq << " tk=" << c.tk << " hq=" << c.hq << " hkv=" << c.hkv << " d=" << c.d
             << " mask=" << mask_name(c.mask) << " offset=" << c.offset << " gain=" << c.q_gain
             << " kv=" << kernels::kv_type_name(kv));
  Inputs in = make_inputs(c, seed);
  std::vector<float> out, lse;
  AttentionParams p = params_for(c, in, out, lse, kv);
  kernels::cpu::attention_partial(p);
  const int64_t empty = check_against_reference(p, out, lse);
  const int64_t rows = c.tq * c.hq;
  if (c.mask == Mask::kAllPadding || c.mask == Mask::kQueriesBeforeKeys) CHECK(empty == rows);
  if (c.mask == Mask::kFull || c.mask == Mask::kCausal) CHECK(empty == 0);
  if (c.mask == Mask::kSomeRowsSeeNothing) CHECK(empty == std::min<int64_t>(3, c.tq) * c.hq);
}

struct Gqa {
  int hq, hkv;
};

}  // namespace

TEST_CASE("attention_partial: every mask x GQA ratio x head dim", "[attention]") {
  const Mask mask = GENERATE(Mask::kFull, Mask::kCausal, Mask::kCausalPadding,
                             Mask::kSomeRowsSeeNothing, Mask::kAllPadding,
                             Mask::kQueriesBeforeKeys, Mask::kGapsUnsorted);
  // Ratios 1, 2, 3 (SmolLM2: 9/3), 4, 8 and 9.
  const Gqa g = GENERATE(Gqa{4, 4}, Gqa{8, 4}, Gqa{9, 3}, Gqa{8, 2}, Gqa{8, 1}, Gqa{9, 1});
  const int d = GENERATE(64, 128);
  const auto len = GENERATE(std::pair<int64_t, int64_t>{1, 300}, std::pair<int64_t, int64_t>{65, 63},
                            std::pair<int64_t, int64_t>{127, 130});
  const int32_t offset = GENERATE(0, 1000000);
  run_case({len.first, len.second, g.hq, g.hkv, d, mask, offset});
}

TEST_CASE("attention_partial: bf16 K/V (a bf16 KV cache)", "[attention]") {
  // The K/V tiles are widened to f32 before the GEMMs: the result equals f32
  // attention over the bf16-rounded K/V to the f32 tolerance.
  const Mask mask = GENERATE(Mask::kFull, Mask::kCausal, Mask::kCausalPadding,
                             Mask::kSomeRowsSeeNothing, Mask::kAllPadding, Mask::kGapsUnsorted);
  const Gqa g = GENERATE(Gqa{4, 4}, Gqa{9, 3}, Gqa{8, 1});
  const int d = GENERATE(64, 128);
  const auto len = GENERATE(std::pair<int64_t, int64_t>{1, 300}, std::pair<int64_t, int64_t>{65, 63},
                            std::pair<int64_t, int64_t>{127, 130},
                            std::pair<int64_t, int64_t>{1, 2500});  // keys split across threads
  run_case({len.first, len.second, g.hq, g.hkv, d, mask, 1000}, 9, kernels::KvType::kBF16);
}

TEST_CASE("attention_partial: lengths 1..300", "[attention]") {
  const int64_t tq = GENERATE(1, 2, 7, 63, 64, 65, 127, 300);
  const int64_t tk = GENERATE(1, 2, 7, 63, 64, 65, 127, 300);
  const Mask mask = GENERATE(Mask::kFull, Mask::kCausal, Mask::kCausalPadding,
                             Mask::kGapsUnsorted);
  run_case({tq, tk, 9, 3, 64, mask});
}

TEST_CASE("attention_partial: peaky softmax and large scores", "[attention]") {
  const float gain = GENERATE(8.f, 40.f);
  const Mask mask = GENERATE(Mask::kCausal, Mask::kGapsUnsorted);
  const int64_t tq = GENERATE(1, 65, 200);
  run_case({tq, 200, 8, 2, 64, mask, 0, gain});
}

TEST_CASE("attention_partial: decode over many keys (keys split across threads)",
          "[attention]") {
  // tq * hkv work items below twice the thread count and tk >= 2 * 1024 make
  // the kernel split the keys into ranges and combine them.
  const int threads = GENERATE(1, 2, 3, 4);
  const Gqa g = GENERATE(Gqa{8, 1}, Gqa{9, 3}, Gqa{4, 4});
  const int64_t tq = GENERATE(1, 2);
  const Mask mask = GENERATE(Mask::kCausal, Mask::kCausalPadding, Mask::kGapsUnsorted);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  INFO("threads=" << threads);
  run_case({tq, 2500, g.hq, g.hkv, 128, mask, 1000000});
  omp_set_num_threads(saved);
}

TEST_CASE("attention_partial: result does not depend on the thread count", "[attention]") {
  const Case c{300, 300, 9, 3, 64, Mask::kCausalPadding};
  Inputs in = make_inputs(c, 11);
  std::vector<float> out1, lse1, out2, lse2;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  kernels::cpu::attention_partial(params_for(c, in, out1, lse1));
  omp_set_num_threads(3);
  kernels::cpu::attention_partial(params_for(c, in, out2, lse2));
  omp_set_num_threads(saved);
  CHECK(out1 == out2);
  CHECK(lse1 == lse2);
}

TEST_CASE("attention_partial_blocks: blocks equal their concatenation", "[attention]") {
  // The keys of a case cut into blocks of random sizes (empty ones included),
  // in order, against the same float64 reference; one-key blocks, page-sized
  // blocks and blocks longer than a 1024-key piece; several thread counts.
  const Mask mask = GENERATE(Mask::kFull, Mask::kCausal, Mask::kCausalPadding,
                             Mask::kSomeRowsSeeNothing, Mask::kAllPadding, Mask::kGapsUnsorted);
  const int64_t tq = GENERATE(1, 3, 63);
  const int64_t tk = GENERATE(1, 300, 2500);
  const int64_t max_block = GENERATE(1, 256, 3000);
  const int threads = GENERATE(1, 3);
  const kernels::KvType kv = GENERATE(kernels::KvType::kF32, kernels::KvType::kBF16);
  if (max_block == 1 && tk > 300) return;
  const Case c{tq, tk, 9, 3, 64, mask, 1000};
  INFO("tq=" << tq << " tk=" << tk << " mask=" << mask_name(mask) << " max_block=" << max_block
             << " threads=" << threads << " kv=" << kernels::kv_type_name(kv));
  Inputs in = make_inputs(c, uint32_t(tq * 31 + tk + max_block));
  std::vector<float> out, lse;
  AttentionParams p = params_for(c, in, out, lse, kv);
  std::vector<kernels::KeyBlock> blocks;
  const int64_t row = int64_t(c.hkv) * c.d;
  for (const auto& [at, n] : test::random_cuts(tk, max_block, uint32_t(tk + max_block)))
    blocks.push_back({kernels::kv_advance(p.k, at * row, kv), kernels::kv_advance(p.v, at * row, kv),
                      p.k_pos + at, n});
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  kernels::cpu::attention_partial_blocks(p, blocks.data(), blocks.size());
  omp_set_num_threads(saved);
  check_against_reference(p, out, lse);
}

TEST_CASE("attention_partial_blocks: no blocks", "[attention]") {
  const Case c{5, 10, 4, 2, 64, Mask::kCausal};
  Inputs in = make_inputs(c, 3);
  std::vector<float> out, lse;
  kernels::cpu::attention_partial_blocks(params_for(c, in, out, lse), nullptr, 0);
  for (float x : out) CHECK(x == 0.f);
  for (float x : lse) CHECK((std::isinf(x) && x < 0));
}

TEST_CASE("attention_partial: a NaN poisons the rows that see it, and only those", "[attention]") {
  // Causal, queries at the keys' positions: row i sees keys 0..i.
  const Case c{24, 24, 4, 2, 64, Mask::kCausal};
  Inputs clean = make_inputs(c, 11);
  std::vector<float> want, want_lse;
  kernels::cpu::attention_partial(params_for(c, clean, want, want_lse));
  const int64_t row = int64_t(c.hq) * c.d;
  for (const bool in_query : {true, false}) {
    CAPTURE(in_query);
    Inputs in = make_inputs(c, 11);
    const int64_t bad = 9;  // query row 9, or key 9 (KV head 0)
    if (in_query)
      in.q[size_t(bad * row)] = std::nanf("");
    else
      in.k[size_t(bad * c.hkv * c.d)] = std::nanf("");
    std::vector<float> out, lse;
    kernels::cpu::attention_partial(params_for(c, in, out, lse));
    for (int64_t i = 0; i < c.tq; ++i) {
      // The NaN is in query head 0 (and its KV group) of row 9, or in key 9,
      // which rows 9.. see through the heads of KV head 0.
      const bool poisoned = in_query ? i == bad : i >= bad;
      for (int h = 0; h < c.hq; ++h) {
        const bool head_hit = in_query ? h == 0 : h < c.hq / c.hkv;
        const float l = lse[size_t(i * c.hq + h)];
        CAPTURE(i, h);
        if (poisoned && head_hit) {
          CHECK(std::isnan(l));
          CHECK(std::isnan(out[size_t(i * row + h * c.d)]));
        } else {
          CHECK(l == want_lse[size_t(i * c.hq + h)]);
          CHECK(out[size_t(i * row + h * c.d)] == want[size_t(i * row + h * c.d)]);
        }
      }
    }
  }
}

TEST_CASE("attention_partial: no keys at all", "[attention]") {
  const Case c{5, 0, 4, 2, 64, Mask::kCausal};
  Inputs in = make_inputs(c, 3);
  std::vector<float> out, lse;
  kernels::cpu::attention_partial(params_for(c, in, out, lse));
  for (float x : out) CHECK(x == 0.f);
  for (float x : lse) CHECK((std::isinf(x) && x < 0));
}

}  // namespace ringlm
