// Plain float64 reference of partial attention and of the LSE merge, with the
// exact semantics of kernels/attention_params.h. Slow (O(tq * tk * hq * d),
// no tiling) and obvious on purpose: tests compare every attention path, CPU
// or CUDA, single rank or context-parallel, against it.
//
// Header-only so any test can include it without a build change.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "attention_params.h"

namespace ringlm::test {

// Element i of a K or V array of type t, as double (bf16: the upper half of an f32).
inline double kv_element(const void* base, int64_t i, kernels::KvType t) {
  if (t == kernels::KvType::kF32) return double(static_cast<const float*>(base)[i]);
  const uint32_t bits = uint32_t(static_cast<const uint16_t*>(base)[i]) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return double(f);
}

// out [tq, hq, d] and lse [tq, hq] in double. Reads p.q, p.k, p.v (of p.kv), p.q_pos,
// p.k_pos and the shape fields; ignores p.out and p.lse. Rows that see no key
// (or padding rows, q_pos < 0) get out = 0 and lse = -inf.
inline void reference_attention(const kernels::AttentionParams& p, std::vector<double>& out,
                                std::vector<double>& lse) {
  const double kNegInf = -std::numeric_limits<double>::infinity();
  const int group = p.hq / p.hkv;
  out.assign(size_t(p.tq) * p.hq * p.d, 0.0);
  lse.assign(size_t(p.tq) * p.hq, kNegInf);
  std::vector<double> s(size_t(std::max<int64_t>(p.tk, 1)));
  for (int64_t i = 0; i < p.tq; ++i) {
    const int32_t qp = p.q_pos[i];
    for (int h = 0; h < p.hq; ++h) {
      const int g = h / group;
      const float* q = p.q + (i * p.hq + h) * p.d;
      double mx = kNegInf;
      for (int64_t j = 0; j < p.tk; ++j) {
        const int32_t kp = p.k_pos[j];
        const bool vis = qp >= 0 && kp >= 0 && (!p.causal || kp <= qp);
        if (!vis) {
          s[j] = kNegInf;
          continue;
        }
        const int64_t k0 = (j * p.hkv + g) * p.d;
        double dot = 0.0;
        for (int c = 0; c < p.d; ++c) dot += double(q[c]) * kv_element(p.k, k0 + c, p.kv);
        s[j] = double(p.scale) * dot;
        mx = std::max(mx, s[j]);
      }
      if (mx == kNegInf) continue;
      double sum = 0.0;
      for (int64_t j = 0; j < p.tk; ++j) sum += s[j] == kNegInf ? 0.0 : std::exp(s[j] - mx);
      const double l = mx + std::log(sum);
      double* o = out.data() + (i * p.hq + h) * p.d;
      for (int64_t j = 0; j < p.tk; ++j) {
        if (s[j] == kNegInf) continue;
        const double w = std::exp(s[j] - l);
        const int64_t v0 = (j * p.hkv + g) * p.d;
        for (int c = 0; c < p.d; ++c) o[c] += w * kv_element(p.v, v0 + c, p.kv);
      }
      lse[i * p.hq + h] = l;
    }
  }
}

// Double-precision merge of one partial (out, lse) into an accumulator, the
// rule of docs/context-parallelism.md section 2 (MergeParams semantics):
//   L = log(exp(acc_lse) + exp(lse)), acc = acc*exp(acc_lse - L) + out*exp(lse - L).
// rows = tokens * hq; -inf on either side contributes nothing.
inline void reference_merge(std::vector<double>& acc_out, std::vector<double>& acc_lse,
                            const std::vector<double>& out, const std::vector<double>& lse,
                            int64_t rows, int d) {
  const double kNegInf = -std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    const double a = acc_lse[r], b = lse[r];
    if (b == kNegInf) continue;
    double* ao = acc_out.data() + r * d;
    const double* bo = out.data() + r * d;
    if (a == kNegInf) {
      std::copy(bo, bo + d, ao);
      acc_lse[r] = b;
      continue;
    }
    const double mx = std::max(a, b);
    const double L = mx + std::log(std::exp(a - mx) + std::exp(b - mx));
    const double wa = std::exp(a - L), wb = std::exp(b - L);
    for (int c = 0; c < d; ++c) ao[c] = ao[c] * wa + bo[c] * wb;
    acc_lse[r] = L;
  }
}

}  // namespace ringlm::test
