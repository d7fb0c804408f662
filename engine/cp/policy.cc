#include "cp/policy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace ringlm {

const char* cp_variant_name(CpVariant v) {
  switch (v) {
    case CpVariant::kAuto:
      return "auto";
    case CpVariant::kPassKV:
      return "pass-kv";
    case CpVariant::kPassQ:
      return "pass-q";
  }
  return "?";
}

const char* decode_variant_name(DecodeVariant v) {
  switch (v) {
    case DecodeVariant::kAuto:
      return "auto";
    case DecodeVariant::kAllGather:
      return "all-gather";
    case DecodeVariant::kRingPassQ:
      return "ring-pass-q";
  }
  return "?";
}

Result<PolicyDecision> choose_cp_variant(const PolicyInputs& in) {
  if (in.world_size < 1) return InvalidArgument("cp policy: world_size must be >= 1");
  if (in.new_tokens < 1 || in.cached_tokens < 0) {
    return InvalidArgument("cp policy: need T >= 1 and P >= 0");
  }
  if (in.hq < 1 || in.hkv < 1 || in.hq % in.hkv != 0) {
    return InvalidArgument("cp policy: H_q must be a positive multiple of H_kv");
  }
  if (!(in.elem_bytes > 0) || !(in.kv_elem_bytes >= 0))
    return InvalidArgument("cp policy: element sizes must be e > 0 and e_kv >= 0 (0: e)");
  const bool automatic = in.forced == CpVariant::kAuto;
  const double c = in.calib.attn_flops, bw = in.calib.link_bytes_per_s;
  if (automatic && in.world_size > 1 && !(c > 0 && bw > 0)) {
    return InvalidArgument(
        "cp policy: automatic choice needs attention FLOP/s and link "
        "bandwidth > 0 (calibrate or configure them)");
  }

  const double t = static_cast<double>(in.new_tokens);
  const double p = static_cast<double>(in.cached_tokens);
  const double n = in.world_size, hq = in.hq, hkv = in.hkv, e = in.elem_bytes;
  const double e_kv = in.kv_elem_bytes > 0 ? in.kv_elem_bytes : e;

  PolicyDecision d;
  d.ring = in.world_size > 1;
  d.miss_rate = t / (t + p);
  const double big_d = hq * in.head_dim;
  d.q_block_bytes = t * big_d * e / n;
  d.kv_block_bytes = 2 * (t + p) * big_d * (hkv / hq) * e_kv / n;
  d.q_smaller = d.miss_rate <= 2 * (hkv / hq) * (e_kv / e);
  if (in.head_dim > 0) {
    d.pass_q_partial_bytes = 2 * t * hq * (in.head_dim + 1) * 4;
    d.pass_kv_ring_bytes = 3 * d.kv_block_bytes;
  }
  if (c > 0 && bw > 0) {
    d.kv_hidden_min_t = n * c * hkv * e_kv / (2 * hq * bw);
    d.q_hidden_min_tp = n * e * c / (4 * bw);
    d.miss_threshold = 2 * (hkv / hq) * (e_kv / e) - 4 * t * bw / (n * c * e);
    d.kv_hidden = t >= d.kv_hidden_min_t;
    d.q_hidden = t + p >= d.q_hidden_min_tp;
  }

  char buf[256];
  if (!automatic) {
    d.variant = in.forced;
    d.forced = true;
    d.reason = std::string("forced ") + cp_variant_name(in.forced);
  } else if (!d.ring) {
    d.variant = CpVariant::kPassKV;
    d.reason = "one rank: local attention, no ring";
  } else if (d.kv_hidden) {
    d.variant = CpVariant::kPassKV;
    std::snprintf(buf, sizeof(buf), "pass-kv: T=%.0f >= %.1f, KV traffic hides under compute", t,
                  d.kv_hidden_min_t);
    d.reason = buf;
  } else if (d.miss_rate >= d.miss_threshold) {
    d.variant = CpVariant::kPassKV;
    std::snprintf(buf, sizeof(buf), "pass-kv: miss rate %.4g >= threshold %.4g", d.miss_rate,
                  d.miss_threshold);
    d.reason = buf;
  } else if (d.pass_q_partial_bytes > kPassQMaxPartialBytes &&
             d.pass_q_partial_bytes > d.pass_kv_ring_bytes) {
    d.variant = CpVariant::kPassKV;
    std::snprintf(buf, sizeof(buf),
                  "pass-kv: pass-q would be faster but hold %.2f GiB of partials per rank "
                  "(pass-kv's ring: %.2f GiB)",
                  d.pass_q_partial_bytes / double(1 << 30), d.pass_kv_ring_bytes / double(1 << 30));
    d.reason = buf;
  } else {
    d.variant = CpVariant::kPassQ;
    std::snprintf(buf, sizeof(buf), "pass-q: T=%.0f < %.1f and miss rate %.4g < threshold %.4g", t,
                  d.kv_hidden_min_t, d.miss_rate, d.miss_threshold);
    d.reason = buf;
  }
  return d;
}

DecodeVariant choose_decode_variant(DecodeVariant forced, const DecodeTimings& measured) {
  if (forced != DecodeVariant::kAuto) return forced;
  if (measured.all_gather_ms > 0 && measured.ring_pass_q_ms > 0 &&
      measured.ring_pass_q_ms < measured.all_gather_ms) {
    return DecodeVariant::kRingPassQ;
  }
  return DecodeVariant::kAllGather;
}

namespace {

// Deterministic values in [-1, 1) without <random>'s per-platform differences.
void fill_pseudo_random(std::vector<float>& v, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (auto& f : v) {
    x = x * 1664525u + 1013904223u;
    f = static_cast<float>(x >> 8) / static_cast<float>(1u << 23) - 1.f;
  }
}

Result<Buffer> upload(Backend& b, const void* host, size_t bytes) {
  RINGLM_ASSIGN_OR_RETURN(Buffer buf, b.alloc(bytes));
  RINGLM_RETURN_IF_ERROR(b.copy_from_host(buf.data(), host, bytes));
  return buf;
}

}  // namespace

Result<double> measure_attention_flops(Backend& backend, const AttentionCalibrationOptions& o) {
  if (o.tq < 1 || o.tk < 1 || o.hq < 1 || o.hkv < 1 || o.d < 1 || o.repeats < 1 ||
      o.hq % o.hkv != 0) {
    return InvalidArgument("attention calibration: sizes must be positive, H_q a multiple of H_kv");
  }
  std::vector<float> q(o.tq * o.hq * o.d), k(o.tk * o.hkv * o.d), v(k.size());
  fill_pseudo_random(q, 1);
  fill_pseudo_random(k, 2);
  fill_pseudo_random(v, 3);
  std::vector<int32_t> q_pos(o.tq), k_pos(o.tk);
  for (int64_t i = 0; i < o.tq; ++i) q_pos[i] = static_cast<int32_t>(o.tk + i);
  for (int64_t j = 0; j < o.tk; ++j) k_pos[j] = static_cast<int32_t>(j);

  RINGLM_ASSIGN_OR_RETURN(Buffer dq, upload(backend, q.data(), q.size() * sizeof(float)));
  RINGLM_ASSIGN_OR_RETURN(Buffer dk, upload(backend, k.data(), k.size() * sizeof(float)));
  RINGLM_ASSIGN_OR_RETURN(Buffer dv, upload(backend, v.data(), v.size() * sizeof(float)));
  RINGLM_ASSIGN_OR_RETURN(Buffer dqp, upload(backend, q_pos.data(), q_pos.size() * 4));
  RINGLM_ASSIGN_OR_RETURN(Buffer dkp, upload(backend, k_pos.data(), k_pos.size() * 4));
  RINGLM_ASSIGN_OR_RETURN(Buffer dout, backend.alloc(q.size() * sizeof(float)));
  RINGLM_ASSIGN_OR_RETURN(Buffer dlse, backend.alloc(o.tq * o.hq * sizeof(float)));

  kernels::AttentionParams p;
  p.q = dq.as<float>();
  p.q_pos = dqp.as<int32_t>();
  p.k = dk.as<float>();
  p.v = dv.as<float>();
  p.k_pos = dkp.as<int32_t>();
  p.out = dout.as<float>();
  p.lse = dlse.as<float>();
  p.tq = o.tq;
  p.tk = o.tk;
  p.hq = o.hq;
  p.hkv = o.hkv;
  p.d = o.d;
  p.scale = 1.f / std::sqrt(static_cast<float>(o.d));
  p.causal = true;

  RINGLM_RETURN_IF_ERROR(backend.attention_partial(p));  // warm-up
  RINGLM_RETURN_IF_ERROR(backend.synchronize());
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < o.repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    RINGLM_RETURN_IF_ERROR(backend.attention_partial(p));
    RINGLM_RETURN_IF_ERROR(backend.synchronize());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  const double flops = 4.0 * o.tq * o.tk * o.hq * o.d;
  return flops / std::max(best, 1e-9);
}

}  // namespace ringlm
