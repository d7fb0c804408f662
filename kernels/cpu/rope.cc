// Rotary position embedding (CPU), GGUF-llama (adjacent pairs) and NeoX
// (split halves) layouts, with linear and Llama 3 frequency scaling.
//
// Precision: the frequencies are float (as every framework stores them), but
// the angle pos * inv_freq is formed in double. In float that product has an
// absolute error of up to ulp(pos * f) / 2, already 0.03 rad at pos = 1e6,
// while the double product is exact to ~1e-10 rad there. The angle is then
// reduced to [-pi, pi] in double before the float sin/cos, whose argument
// rounding costs ~2e-7 rad.
#include "cpu/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace ringlm::kernels::cpu {

std::vector<float> rope_inv_freq(const RopeConfig& cfg) {
  const int half = cfg.rot_dim / 2;
  std::vector<float> inv(size_t(std::max(half, 0)));
  const double two_pi = 2.0 * std::numbers::pi;
  for (int i = 0; i < half; ++i) {
    // theta^(-2i / rot_dim)
    double f = std::pow(double(cfg.theta), -2.0 * i / double(cfg.rot_dim));
    switch (cfg.scaling) {
      case RopeScaling::kNone:
        break;
      case RopeScaling::kLinear:
        f /= double(cfg.factor);  // position / factor, folded into the frequency
        break;
      case RopeScaling::kLlama3: {
        // Llama 3.1: keep high frequencies (short wavelengths), divide low
        // ones by `factor`, interpolate smoothly in between.
        const double orig = double(cfg.original_context);
        const double low = double(cfg.low_freq_factor), high = double(cfg.high_freq_factor);
        const double wavelen = two_pi / f;
        const double high_freq_wavelen = orig / high;
        const double low_freq_wavelen = orig / low;
        if (wavelen < high_freq_wavelen) {
          // unchanged
        } else if (wavelen > low_freq_wavelen || high == low) {
          f /= double(cfg.factor);
        } else {
          const double smooth = (orig / wavelen - low) / (high - low);
          f = (1.0 - smooth) * f / double(cfg.factor) + smooth * f;
        }
        break;
      }
    }
    // Per-frequency divisors carried by the model file (GGUF rope_freqs), as
    // llama.cpp applies them: on top of any configured scaling.
    if (cfg.freq_factors != nullptr) f /= double(cfg.freq_factors[i]);
    inv[size_t(i)] = float(f);
  }
  return inv;
}

void rope(float* x, const int32_t* pos, int64_t rows, int heads, const RopeConfig& cfg,
          const float* inv_freq) {
  const int d = cfg.head_dim;
  const int half = cfg.rot_dim / 2;
  const double two_pi = 2.0 * std::numbers::pi;
#pragma omp parallel if (rows * heads * d >= (int64_t(1) << 14))
  {
    std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));  // [rot_dim / 2]
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      // cos/sin depend on the row's position only: computed once, used by every head.
      const double p = double(pos[r]);
      for (int i = 0; i < half; ++i) {
        double a = p * double(inv_freq[i]);
        a = std::remainder(a, two_pi);  // [-pi, pi]
        cs[size_t(i)] = std::cos(float(a));
        sn[size_t(i)] = std::sin(float(a));
      }
      for (int h = 0; h < heads; ++h) {
        float* xh = x + (r * heads + h) * int64_t(d);  // [d]; dims >= rot_dim untouched
        if (cfg.neox) {
          // Pairs (i, i + rot_dim/2).
#pragma omp simd
          for (int i = 0; i < half; ++i) {
            const float x0 = xh[i], x1 = xh[i + half];
            xh[i] = x0 * cs[size_t(i)] - x1 * sn[size_t(i)];
            xh[i + half] = x0 * sn[size_t(i)] + x1 * cs[size_t(i)];
          }
        } else {
          // Adjacent pairs (2i, 2i+1).
          for (int i = 0; i < half; ++i) {
            const float x0 = xh[2 * i], x1 = xh[2 * i + 1];
            xh[2 * i] = x0 * cs[size_t(i)] - x1 * sn[size_t(i)];
            xh[2 * i + 1] = x0 * sn[size_t(i)] + x1 * cs[size_t(i)];
          }
        }
      }
    }
  }
}

}  // namespace ringlm::kernels::cpu
