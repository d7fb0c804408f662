// Exact merge of partial attention results by their LSE (CPU).
//
// Per row (token, head), with a = acc_lse and b = lse:
//   L = max(a, b) + log1p(exp(-|a - b|))        (log(e^a + e^b) without overflow)
//   acc_out = acc_out * exp(a - L) + out * exp(b - L)
// Both weights are <= 1 and sum to 1, so the merge never overflows whatever
// the magnitude of the LSEs. -inf marks a side that saw no key: b = -inf
// leaves the accumulator untouched, a = -inf copies the partial in, both
// -inf leave out = 0, lse = -inf.
#include "cpu/merge_partials.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ringlm::kernels::cpu {

void merge_partials(const MergeParams& p) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const int d = p.d;
  // Memory-bound and cheap per row: only fork threads when there is enough.
#pragma omp parallel for schedule(static) if (p.rows * d >= (int64_t(1) << 16))
  for (int64_t r = 0; r < p.rows; ++r) {
    const float a = p.acc_lse[r];
    const float b = p.lse[r];
    float* acc = p.acc_out + r * d;  // [d]
    const float* o = p.out + r * d;  // [d]
    if (b == kNegInf) {
      if (a == kNegInf) std::fill(acc, acc + d, 0.f);  // neither side saw a key
      continue;
    }
    if (a == kNegInf) {
      std::copy(o, o + d, acc);
      p.acc_lse[r] = b;
      continue;
    }
    // Weights in double: they depend on a - L, and in float an LSE of
    // magnitude 1e4 only resolves 1e-3 (a 0.1% error in the weight).
    const double mx = std::max(a, b);
    const double lse = mx + std::log1p(std::exp(-std::fabs(double(a) - double(b))));
    const float wa = float(std::exp(double(a) - lse));
    const float wb = float(std::exp(double(b) - lse));
#pragma omp simd
    for (int c = 0; c < d; ++c) acc[c] = acc[c] * wa + o[c] * wb;
    p.acc_lse[r] = float(lse);
  }
}

}  // namespace ringlm::kernels::cpu
