// Attention test cases shared by the GPU tests: inputs with a chosen masking
// pattern, their float64 reference (tests/common/reference_attention.h), and
// the runs on a backend or on a forced CUDA kernel path, with K/V in f32 or
// bf16 (a bf16 KV cache; the inputs are bf16-exact, so the reference is the
// same).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/dequantize.h"
#include "cuda/attention_partial.h"
#include "gpu_test_util.h"
#include "reference_attention.h"
#include "test_util.h"

namespace ringlm::test {

enum class Mask {
  kCausalSuffix,  // keys 0..tk-1, queries the last tq positions (prefill with a cache)
  kCausalPadded,  // as above with padding keys / rows (-1) holding NaN
  kNonCausal,     // random positions, causal = false, padding holding NaN
  kShuffled,      // keys a permutation of 0..tk-1 (unsorted), random query positions
  kFuture,        // every key after every query: nothing visible
  kPast,          // every key before every query: everything visible
};

inline const char* mask_name(Mask m) {
  switch (m) {
    case Mask::kCausalSuffix: return "causal-suffix";
    case Mask::kCausalPadded: return "causal-padded";
    case Mask::kNonCausal: return "non-causal";
    case Mask::kShuffled: return "shuffled";
    case Mask::kFuture: return "future";
    case Mask::kPast: return "past";
  }
  return "?";
}

struct AttnCase {
  int64_t tq = 1, tk = 1;
  int hq = 1, hkv = 1, d = 64;
  Mask mask = Mask::kCausalSuffix;
  bool zero_q = false;  // q = 0: every visible key weighs the same, lse = log(count)
  float range = 1.f;
  uint32_t seed = 1;
};

struct AttnData {
  std::vector<float> q, k, v;
  std::vector<int32_t> q_pos, k_pos;
  bool causal = true;
  std::vector<double> ref_out, ref_lse;

  kernels::AttentionParams host_params(const AttnCase& c) const {
    kernels::AttentionParams p;
    p.q = q.data();
    p.q_pos = q_pos.data();
    p.k = k.data();
    p.v = v.data();
    p.k_pos = k_pos.data();
    p.tq = c.tq;
    p.tk = c.tk;
    p.hq = c.hq;
    p.hkv = c.hkv;
    p.d = c.d;
    p.scale = 1.f / std::sqrt(float(c.d));
    p.causal = causal;
    return p;
  }
};

inline AttnData make_attention_data(const AttnCase& c) {
  AttnData a;
  std::mt19937 rng(c.seed);
  std::uniform_real_distribution<float> u(-c.range, c.range);
  a.q.resize(size_t(c.tq * c.hq * c.d));
  a.k.resize(size_t(c.tk * c.hkv * c.d));
  a.v.resize(a.k.size());
  // Inputs exactly representable in bf16: the tensor-core paths round q, k
  // and v to bf16, so the f64 reference then sees the very values the kernel
  // multiplies and the tolerance measures the kernel's own rounding (P in
  // bf16, f32 accumulation), not the input conversion.
  auto draw = [&] { return kv_stored(u(rng), kernels::KvType::kBF16); };
  for (auto& x : a.q) x = c.zero_q ? 0.f : draw();
  for (auto& x : a.k) x = draw();
  for (auto& x : a.v) x = draw();
  a.q_pos.resize(size_t(c.tq));
  a.k_pos.resize(size_t(c.tk));
  const int64_t base = std::max<int64_t>(0, c.tk - c.tq);
  switch (c.mask) {
    case Mask::kCausalSuffix:
    case Mask::kCausalPadded:
      for (int64_t j = 0; j < c.tk; ++j) a.k_pos[size_t(j)] = int32_t(j);
      for (int64_t i = 0; i < c.tq; ++i) a.q_pos[size_t(i)] = int32_t(base + i);
      if (c.mask == Mask::kCausalPadded) {
        for (int64_t j = 3; j < c.tk; j += 7) a.k_pos[size_t(j)] = -1;
        if (c.tk > 4) a.k_pos[size_t(c.tk - 1)] = -1;
        for (int64_t i = 2; i < c.tq; i += 5) a.q_pos[size_t(i)] = -1;
      }
      break;
    case Mask::kNonCausal:
      a.causal = false;
      for (auto& p : a.k_pos) p = rng() % 10 == 0 ? -1 : int32_t(rng() % 1000);
      for (auto& p : a.q_pos) p = rng() % 10 == 0 ? -1 : int32_t(rng() % 1000);
      break;
    case Mask::kShuffled:
      for (int64_t j = 0; j < c.tk; ++j) a.k_pos[size_t(j)] = int32_t(j);
      std::shuffle(a.k_pos.begin(), a.k_pos.end(), rng);
      for (auto& p : a.q_pos) p = int32_t(rng() % uint32_t(c.tk + 5));
      break;
    case Mask::kFuture:
      for (int64_t j = 0; j < c.tk; ++j) a.k_pos[size_t(j)] = int32_t(100000 + j);
      for (int64_t i = 0; i < c.tq; ++i) a.q_pos[size_t(i)] = int32_t(i);
      break;
    case Mask::kPast:
      for (int64_t j = 0; j < c.tk; ++j) a.k_pos[size_t(j)] = int32_t(j);
      for (int64_t i = 0; i < c.tq; ++i) a.q_pos[size_t(i)] = int32_t(100000 + i);
      break;
  }
  // Padding rows hold NaN: no path may read them into a result.
  if (c.mask == Mask::kCausalPadded || c.mask == Mask::kNonCausal) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t j = 0; j < c.tk; ++j)
      if (a.k_pos[size_t(j)] < 0)
        for (int64_t e = 0; e < int64_t(c.hkv) * c.d; ++e)
          a.k[size_t(j * c.hkv * c.d + e)] = a.v[size_t(j * c.hkv * c.d + e)] = nan;
    for (int64_t i = 0; i < c.tq; ++i)
      if (a.q_pos[size_t(i)] < 0)
        for (int64_t e = 0; e < int64_t(c.hq) * c.d; ++e) a.q[size_t(i * c.hq * c.d + e)] = nan;
  }
  reference_attention(a.host_params(c), a.ref_out, a.ref_lse);
  return a;
}

// Copy of the inputs with padding rows zeroed (for a CPU run, whose BLAS
// GEMMs multiply masked entries by zero and would turn NaN into NaN).
inline AttnData without_nan(const AttnData& a) {
  AttnData b = a;
  for (auto* v : {&b.q, &b.k, &b.v})
    for (auto& x : *v)
      if (std::isnan(x)) x = 0.f;
  return b;
}

struct AttnResult {
  std::vector<float> out, lse;
};

// Device copies of one case's inputs and outputs on a backend; K and V are
// stored as `kv` elements.
struct AttnDevice {
  Buffer q, k, v, q_pos, k_pos, out, lse;
  kernels::AttentionParams p;

  AttnDevice(Backend& b, const AttnCase& c, const AttnData& a,
             kernels::KvType kv = kernels::KvType::kF32) {
    q = upload(b, a.q);
    k = kv == kernels::KvType::kBF16 ? upload(b, to_bf16(a.k)) : upload(b, a.k);
    v = kv == kernels::KvType::kBF16 ? upload(b, to_bf16(a.v)) : upload(b, a.v);
    q_pos = upload(b, a.q_pos);
    k_pos = upload(b, a.k_pos);
    // Outputs start as NaN so that an unwritten element fails.
    out = upload(b, std::vector<float>(size_t(c.tq * c.hq * c.d), std::nanf("")));
    lse = upload(b, std::vector<float>(size_t(c.tq * c.hq), std::nanf("")));
    p = a.host_params(c);
    p.q = q.as<float>();
    p.k = k.data();
    p.v = v.data();
    p.kv = kv;
    p.q_pos = q_pos.as<int32_t>();
    p.k_pos = k_pos.as<int32_t>();
    p.out = out.as<float>();
    p.lse = lse.as<float>();
  }
  AttnResult fetch(Backend& b, const AttnCase& c) {
    return {download<float>(b, out.data(), size_t(c.tq * c.hq * c.d)),
            download<float>(b, lse.data(), size_t(c.tq * c.hq))};
  }
};

inline AttnResult run_backend(Backend& b, const AttnCase& c, const AttnData& a,
                              kernels::KvType kv = kernels::KvType::kF32) {
  AttnDevice dev(b, c, a, kv);
  require_ok(b.attention_partial(dev.p));
  return dev.fetch(b, c);
}

// Runs one CUDA kernel path directly (kernels/cuda/attention_partial.h).
inline AttnResult run_cuda_path(const AttnCase& c, const AttnData& a,
                                kernels::cuda::AttentionPath path,
                                kernels::KvType kv = kernels::KvType::kF32) {
  Backend& g = cuda_backend();
  AttnDevice dev(g, c, a, kv);
  int sms = 0;
  REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  const auto plan = kernels::cuda::plan_attention(dev.p, sms, path);
  REQUIRE(plan.path == path);
  auto ws = g.alloc(std::max<size_t>(plan.workspace_bytes, 256));
  require_ok(ws.status());
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(g));
  REQUIRE(kernels::cuda::attention_partial(dev.p, plan, ws->data(), stream) == cudaSuccess);
  return dev.fetch(g, c);
}

struct AttnTol {
  Tol out{2e-3, 2e-2};
  Tol lse{2e-2, 0.0};
};

// bf16-class tolerances, or f32-class ones for the f32 paths; q = 0 checks
// lse = log(count) tightly on every path.
inline AttnTol attention_tol(const AttnCase& c, bool f32_path) {
  AttnTol t;
  if (f32_path) {
    t.out = {1e-4, 1e-4};
    t.lse = {1e-4, 1e-5};
  }
  if (c.zero_q) t.lse = {1e-4, 1e-5};
  return t;
}

inline void check_attention(const AttnResult& r, const AttnData& a, const AttnTol& t,
                            const std::string& what) {
  expect_close(r.out, a.ref_out, t.out, what + " out");
  expect_close(r.lse, a.ref_lse, t.lse, what + " lse");
}

}  // namespace ringlm::test
