// SwiGLU gate (CPU): out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
#include "cpu/swiglu.h"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace ringlm::kernels::cpu {
namespace {

// exp(x) in float without a libm call, so that the loop below vectorises
// (libm's expf does not, short of -ffast-math). x = n*ln2 + r, |r| <= ln2/2
// (Cody-Waite), degree-6 polynomial for exp(r) (Cephes expf coefficients,
// ~1 ulp), 2^n built in the exponent bits. Inputs are clamped to
// [-87.3, 88.3]; below -87.3 the result is exactly 0. The same routine as in
// attention_partial.cc.
inline float exp_approx(float x) {
  const float xc = std::min(std::max(x, -87.3f), 88.3f);
  const float n = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round(x / ln2)
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const float r2 = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r2 + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  const float result = y * std::bit_cast<float>(bits);
  return x < -87.3f ? 0.f : result;
}

}  // namespace

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  // out may alias gate: each element reads its own gate[i] before writing out[i].
#pragma omp parallel for simd schedule(static) if (n >= (int64_t(1) << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    // For g < -88.3, exp(-g) saturates at e^88.3 and silu is ~0 (|silu| < 1e-36);
    // for g > 87.3, exp(-g) is exactly 0 and silu(g) = g.
    out[i] = g / (1.f + exp_approx(-g)) * up[i];
  }
}

}  // namespace ringlm::kernels::cpu
