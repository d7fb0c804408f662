// Each CUDA attention path forced over shapes the automatic choice would not
// give it (the tensor-core kernel on 1..63 query rows, the f32 path on long
// query blocks), the visible-tile list across its 256-tile chunks, the
// decode key split, the grouped f32 kernel over group sizes that fill, split
// and underfill its 4-head chunks (and over head dims read with and without
// 16-byte vectors), the bf16 entry point, and NaN propagation on each path.
#include <cuda_runtime_api.h>

#include "attention_cases.h"
#include "cuda/convert.h"

namespace ringlm::test {
namespace {

using kernels::cuda::AttentionPath;

TEST_CASE("forced paths over the grid", "[gpu][attention]") {
  const auto shape = GENERATE(std::pair<int64_t, int64_t>{1, 1}, std::pair<int64_t, int64_t>{1, 300},
                              std::pair<int64_t, int64_t>{17, 200}, std::pair<int64_t, int64_t>{64, 64},
                              std::pair<int64_t, int64_t>{127, 129}, std::pair<int64_t, int64_t>{300, 300});
  const int d = GENERATE(64, 128);
  const Mask mask = GENERATE(Mask::kCausalSuffix, Mask::kCausalPadded, Mask::kNonCausal,
                             Mask::kShuffled, Mask::kFuture, Mask::kPast);
  const bool zero_q = GENERATE(false, true);
  const kernels::KvType kv = GENERATE(kernels::KvType::kF32, kernels::KvType::kBF16);
  AttnCase c;
  c.tq = shape.first;
  c.tk = shape.second;
  c.d = d;
  c.hq = 4;
  c.hkv = 2;
  c.mask = mask;
  c.zero_q = zero_q;
  c.seed = uint32_t(c.tq * 131 + c.tk * 17 + d + int(mask) * 7 + zero_q);
  CAPTURE(c.tq, c.tk, c.d, mask_name(mask), zero_q, kernels::kv_type_name(kv));
  const AttnData a = make_attention_data(c);
  check_attention(run_cuda_path(c, a, AttentionPath::kMma, kv), a, attention_tol(c, false), "mma");
  check_attention(run_cuda_path(c, a, AttentionPath::kGeneric, kv), a, attention_tol(c, true),
                  "generic");
  check_attention(run_cuda_path(c, a, AttentionPath::kGrouped, kv), a, attention_tol(c, true),
                  "grouped");
}

TEST_CASE("larger magnitudes (peaked softmax)", "[gpu][attention]") {
  AttnCase c;
  c.tq = 150;
  c.tk = 333;
  c.hq = 8;
  c.hkv = 2;
  c.d = GENERATE(64, 128);
  c.mask = GENERATE(Mask::kCausalSuffix, Mask::kShuffled);
  c.range = 2.f;
  CAPTURE(c.d, mask_name(c.mask));
  const AttnData a = make_attention_data(c);
  check_attention(run_cuda_path(c, a, AttentionPath::kMma), a, attention_tol(c, false), "mma");
  check_attention(run_cuda_path(c, a, AttentionPath::kGeneric), a, attention_tol(c, true), "generic");
  check_attention(run_cuda_path(c, a, AttentionPath::kGrouped), a, attention_tol(c, true), "grouped");
}

TEST_CASE("visible-tile list spans several 256-tile chunks", "[gpu][attention]") {
  AttnCase c;
  c.tq = 130;
  c.tk = 17000;  // 266 tiles of 64 keys
  c.hq = 2;
  c.hkv = 1;
  c.d = 128;
  c.mask = GENERATE(Mask::kCausalSuffix, Mask::kShuffled, Mask::kCausalPadded);
  c.zero_q = GENERATE(false, true);
  CAPTURE(mask_name(c.mask), c.zero_q);
  const AttnData a = make_attention_data(c);
  check_attention(run_cuda_path(c, a, AttentionPath::kMma), a, attention_tol(c, false), "mma");
}

TEST_CASE("decode: keys split across warps and combined", "[gpu][attention]") {
  AttnCase c;
  c.tq = GENERATE(1, 3);
  c.tk = GENERATE(1000, 9000);
  c.hq = 8;
  c.hkv = 2;
  c.d = GENERATE(64, 128, 96);
  c.mask = GENERATE(Mask::kCausalSuffix, Mask::kCausalPadded, Mask::kShuffled);
  const kernels::KvType kv = GENERATE(kernels::KvType::kF32, kernels::KvType::kBF16);
  CAPTURE(c.tq, c.tk, c.d, mask_name(c.mask), kernels::kv_type_name(kv));
  const AttnData a = make_attention_data(c);
  int sms = 0;
  REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  const auto plan = kernels::cuda::plan_attention(a.host_params(c), sms);
  CHECK(plan.path == AttentionPath::kGeneric);
  CHECK(plan.splits > 1);
  check_attention(run_backend(cuda_backend(), c, a, kv), a, attention_tol(c, true), "split");
  const auto grouped = kernels::cuda::plan_attention(a.host_params(c), sms, AttentionPath::kGrouped);
  CHECK(grouped.splits >= plan.splits);
  check_attention(run_cuda_path(c, a, AttentionPath::kGrouped, kv), a, attention_tol(c, true),
                  "grouped split");
}

TEST_CASE("grouped kernel at its most key splits", "[gpu][attention]") {
  AttnCase c;
  c.tq = 1;
  c.tk = 131073;  // 128 splits of 1025 keys, the last one shorter
  c.hq = 2;
  c.hkv = 2;
  c.d = 128;
  c.mask = GENERATE(Mask::kCausalSuffix, Mask::kShuffled);
  CAPTURE(mask_name(c.mask));
  const AttnData a = make_attention_data(c);
  int sms = 0;
  REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  const auto plan = kernels::cuda::plan_attention(a.host_params(c), sms, AttentionPath::kGrouped);
  CHECK(plan.splits == 128);
  check_attention(run_cuda_path(c, a, AttentionPath::kGrouped, kernels::KvType::kBF16), a,
                  attention_tol(c, true), "grouped, 128 splits");
}

TEST_CASE("grouped kernel over group sizes", "[gpu][attention]") {
  // Query heads per KV head: 1, 3 (one chunk, underfilled), 4 (one full),
  // 5, 6 and 7 (a full chunk and a partial one), 8 (two full), 12 (three).
  const auto heads = GENERATE(std::pair<int, int>{4, 4}, std::pair<int, int>{6, 2},
                              std::pair<int, int>{8, 2}, std::pair<int, int>{10, 2},
                              std::pair<int, int>{12, 2}, std::pair<int, int>{7, 1},
                              std::pair<int, int>{8, 1}, std::pair<int, int>{12, 1});
  AttnCase c;
  c.hq = heads.first;
  c.hkv = heads.second;
  c.tq = GENERATE(1, 5);
  c.tk = GENERATE(300, 5000);
  // 100 and 36: rows of d % 8 != 0 elements, read without 16-byte vectors.
  c.d = GENERATE(36, 64, 96, 100, 128, 256);
  c.mask = GENERATE(Mask::kCausalPadded, Mask::kShuffled);
  const kernels::KvType kv = GENERATE(kernels::KvType::kF32, kernels::KvType::kBF16);
  if (c.tk > 300 && (c.d < 128 || c.tq > 1)) return;  // keep the float64 reference cheap
  c.seed = uint32_t(c.hq * 31 + c.hkv * 7 + c.tq * 5 + c.tk + c.d + int(c.mask));
  CAPTURE(c.hq, c.hkv, c.tq, c.tk, c.d, mask_name(c.mask), kernels::kv_type_name(kv));
  const AttnData a = make_attention_data(c);
  check_attention(run_cuda_path(c, a, AttentionPath::kGrouped, kv), a, attention_tol(c, true),
                  "grouped");
}

TEST_CASE("bf16 entry point matches the f32 entry point's tensor-core path", "[gpu][attention]") {
  AttnCase c;
  c.tq = 200;
  c.tk = 260;
  c.hq = 8;
  c.hkv = 8;
  c.d = GENERATE(64, 128);
  c.mask = Mask::kCausalSuffix;
  const AttnData a = make_attention_data(c);
  const AttnResult want = run_cuda_path(c, a, AttentionPath::kMma);

  Backend& g = cuda_backend();
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(g));
  AttnDevice dev(g, c, a);
  auto qb = g.alloc(a.q.size() * 2), kb = g.alloc(a.k.size() * 2), vb = g.alloc(a.v.size() * 2);
  auto ws = g.alloc(kernels::cuda::attention_bf16_workspace_bytes(c.tk));
  REQUIRE((qb.ok() && kb.ok() && vb.ok() && ws.ok()));
  REQUIRE(kernels::cuda::f32_to_bf16(dev.p.q, qb->as<uint16_t>(), int64_t(a.q.size()), stream) == cudaSuccess);
  REQUIRE(kernels::cuda::f32_to_bf16(static_cast<const float*>(dev.p.k), kb->as<uint16_t>(), int64_t(a.k.size()), stream) == cudaSuccess);
  REQUIRE(kernels::cuda::f32_to_bf16(static_cast<const float*>(dev.p.v), vb->as<uint16_t>(), int64_t(a.v.size()), stream) == cudaSuccess);
  kernels::cuda::AttentionBf16Params p;
  p.q = qb->as<uint16_t>();
  p.k = kb->as<uint16_t>();
  p.v = vb->as<uint16_t>();
  p.q_pos = dev.p.q_pos;
  p.k_pos = dev.p.k_pos;
  p.out = dev.p.out;
  p.lse = dev.p.lse;
  p.tq = c.tq;
  p.tk = c.tk;
  p.hq = c.hq;
  p.hkv = c.hkv;
  p.d = c.d;
  p.scale = dev.p.scale;
  p.causal = dev.p.causal;
  REQUIRE(kernels::cuda::attention_partial_bf16(p, ws->data(), stream) == cudaSuccess);
  const AttnResult got = dev.fetch(g, c);
  CHECK(got.out == want.out);
  CHECK(got.lse == want.lse);
}

// Rows that see a NaN key (KV head 0) are NaN in out and lse, as on the CPU
// (kernels/cpu attention_partial): never 0 / -inf, which a merge would read
// as "saw no key" and drop. Every other row stays finite.
void check_nan_rows(const AttnResult& r, const AttnCase& c, int64_t first_poisoned,
                    const std::string& what) {
  const int group = c.hq / c.hkv;
  int64_t wrong = 0;
  for (int64_t i = 0; i < c.tq; ++i)
    for (int h = 0; h < c.hq; ++h) {
      const bool poisoned = i >= first_poisoned && h < group;
      const float l = r.lse[size_t(i * c.hq + h)];
      const float o = r.out[size_t((i * c.hq + h) * c.d)];
      if (poisoned != std::isnan(l) || poisoned != std::isnan(o)) ++wrong;
    }
  INFO(what);
  CHECK(wrong == 0);
}

TEST_CASE("a NaN key poisons the rows that see it, on every path", "[gpu][attention]") {
  AttnCase c;
  c.tq = 96;
  c.tk = 96;
  c.hq = 4;
  c.hkv = 2;
  c.d = GENERATE(64, 128);
  c.mask = Mask::kCausalSuffix;  // row i sees keys 0..i
  CAPTURE(c.d);
  AttnData a = make_attention_data(c);
  const int64_t bad = 40;
  a.k[size_t(bad * c.hkv * c.d)] = std::nanf("");
  check_nan_rows(run_cuda_path(c, a, AttentionPath::kMma), c, bad, "mma");
  check_nan_rows(run_cuda_path(c, a, AttentionPath::kGeneric), c, bad, "generic");
  check_nan_rows(run_cuda_path(c, a, AttentionPath::kGrouped), c, bad, "grouped");

  // Decode: one query over keys split across warps; the NaN split must not
  // vanish in the combine.
  AttnCase dc = c;
  dc.tq = 1;
  dc.tk = 9000;
  dc.hq = 8;
  dc.hkv = 2;
  AttnData da = make_attention_data(dc);
  da.k[size_t(bad * dc.hkv * dc.d)] = std::nanf("");
  int sms = 0;
  REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  REQUIRE(kernels::cuda::plan_attention(da.host_params(dc), sms).splits > 1);
  check_nan_rows(run_backend(cuda_backend(), dc, da), dc, 0, "split");
  check_nan_rows(run_cuda_path(dc, da, AttentionPath::kGrouped), dc, 0, "grouped split");
}

}  // namespace
}  // namespace ringlm::test
