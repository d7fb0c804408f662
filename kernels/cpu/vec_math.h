// Branch-free float helpers that gcc vectorises (shared by the CPU kernels).
#pragma once

#include <bit>
#include <cstdint>

namespace ringlm::kernels::cpu {

// Branch-free select: with the default -ftrapping-math gcc will not
// if-convert a float ?: (or std::min/max) inside a loop, so those keep the
// loop scalar; integer masks vectorise on any x86-64.
inline float select(bool c, float a, float b) {
  const int32_t m = -int32_t(c);
  return std::bit_cast<float>((std::bit_cast<int32_t>(a) & m) | (std::bit_cast<int32_t>(b) & ~m));
}

// exp(x) in float, written so that gcc vectorises the loops calling it (no
// libm call, which does not vectorise short of -ffast-math): x = n*ln2 + r
// with |r| <= ln2/2 (Cody-Waite), a degree-6 polynomial for exp(r) (Cephes
// expf coefficients, ~1 ulp), 2^n built in the exponent bits. Inputs are
// clamped to [-87.3, 88.3]; below -87.3 (-inf included: masked scores) the
// result is exactly 0; NaN stays NaN (a NaN score poisons its row, as in
// exact arithmetic, instead of passing for a masked one).
inline float exp_approx(float x) {
  float xc = select(!(x < -87.3f), x, -87.3f);  // NaN passes both clamps
  xc = select(!(xc > 88.3f), xc, 88.3f);
  // Round to nearest by adding and subtracting 1.5 * 2^23.
  const float n = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
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
  return select(!(x < -87.3f), y * std::bit_cast<float>(bits), 0.f);
}

}  // namespace ringlm::kernels::cpu
