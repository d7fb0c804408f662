// cpu::rope_inv_freq and cpu::rope against double references: both layouts,
// partial rotation, linear and Llama 3 scaling, per-frequency factors, and
// positions up to 2^31 - 1.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <vector>

#include "cpu/rope.h"
#include "test_util.h"

namespace ringlm {
namespace {

using kernels::RopeConfig;
using kernels::RopeScaling;

// The same rotation in double from the same float frequencies: the angle
// p * f is formed in double, sin/cos in double.
std::vector<double> reference_rope(const std::vector<float>& x, const std::vector<int32_t>& pos,
                                   int heads, const RopeConfig& cfg,
                                   const std::vector<float>& inv_freq) {
  std::vector<double> y(x.begin(), x.end());
  const int d = cfg.head_dim, half = cfg.rot_dim / 2;
  for (size_t r = 0; r < pos.size(); ++r) {
    for (int h = 0; h < heads; ++h) {
      double* v = y.data() + (r * heads + h) * d;
      for (int i = 0; i < half; ++i) {
        const double a = double(pos[r]) * double(inv_freq[i]);
        const double c = std::cos(a), s = std::sin(a);
        const int i0 = cfg.neox ? i : 2 * i;
        const int i1 = cfg.neox ? i + half : 2 * i + 1;
        const double x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * c - x1 * s;
        v[i1] = x0 * s + x1 * c;
      }
    }
  }
  return y;
}

RopeConfig llama31_8b() {
  RopeConfig c;
  c.head_dim = 128;
  c.rot_dim = 128;
  c.theta = 500000.f;
  c.scaling = RopeScaling::kLlama3;
  c.factor = 8.f;
  c.low_freq_factor = 1.f;
  c.high_freq_factor = 4.f;
  c.original_context = 8192;
  return c;
}

}  // namespace

TEST_CASE("rope_inv_freq: Llama 3.1 scaling, hand-checked values", "[rope]") {
  // Llama 3.1 8B: theta 500000, 128 dims, factor 8, low 1, high 4, 8192 context.
  // Wavelength bounds: 8192/4 = 2048 (shorter: kept), 8192/1 = 8192 (longer: / 8).
  const auto f = kernels::cpu::rope_inv_freq(llama31_8b());
  REQUIRE(f.size() == 64);
  // i = 0: f = 1, wavelength 2 pi < 2048: unchanged.
  CHECK(f[0] == 1.f);
  // i = 32: f = 500000^(-1/2) = 1/sqrt(500000) = 0.00141421356, wavelength
  // 2 pi sqrt(500000) = 4442.88 lies between the bounds:
  //   smooth = (8192 / 4442.88 - 1) / (4 - 1) = 0.281283
  //   f' = (1 - smooth) * f / 8 + smooth * f = f * 0.371156 = 0.000524846
  CHECK(f[32] == Approx(0.000524846).epsilon(2e-6));
  // i = 63: f = 500000^(-126/128) = 2.45514e-6, wavelength 2.56e6 > 8192: f / 8.
  CHECK(f[63] == Approx(2.455140791e-6 / 8).epsilon(1e-6));
  // i = 28 is the last kept (wavelength 1956.5), i = 35 the first divided (8218.7).
  CHECK(f[28] == Approx(std::pow(500000.0, -56.0 / 128)).epsilon(1e-6));
  CHECK(f[35] == Approx(std::pow(500000.0, -70.0 / 128) / 8).epsilon(1e-6));
}

TEST_CASE("rope_inv_freq: against the double formula", "[rope]") {
  const int rot = GENERATE(32, 64, 128);
  const float theta = GENERATE(10000.f, 100000.f, 500000.f);
  const RopeScaling scaling = GENERATE(RopeScaling::kNone, RopeScaling::kLinear, RopeScaling::kLlama3);
  RopeConfig c = llama31_8b();
  c.rot_dim = rot;
  c.head_dim = 128;
  c.theta = theta;
  c.scaling = scaling;
  c.factor = 4.f;
  c.original_context = 4096;
  const auto f = kernels::cpu::rope_inv_freq(c);
  REQUIRE(f.size() == size_t(rot / 2));
  for (int i = 0; i < rot / 2; ++i) {
    double e = std::pow(double(theta), -2.0 * i / rot);
    if (scaling == RopeScaling::kLinear) e /= 4.0;
    if (scaling == RopeScaling::kLlama3) {
      const double wl = 2 * std::numbers::pi / e;
      if (wl > 4096.0 / 1.0) {
        e /= 4.0;
      } else if (wl >= 4096.0 / 4.0) {
        const double s = (4096.0 / wl - 1.0) / 3.0;
        e = (1 - s) * e / 4.0 + s * e;
      }
    }
    INFO("i=" << i);
    CHECK(double(f[i]) == Approx(e).epsilon(1e-7));
  }
}

TEST_CASE("rope_inv_freq: per-frequency factors divide", "[rope]") {
  RopeConfig c;
  c.head_dim = c.rot_dim = 8;
  std::vector<float> factors = {1.f, 2.f, 4.f, 8.f};
  const auto plain = kernels::cpu::rope_inv_freq(c);
  c.freq_factors = factors.data();
  const auto f = kernels::cpu::rope_inv_freq(c);
  for (int i = 0; i < 4; ++i) CHECK(f[i] == Approx(plain[i] / factors[i]).epsilon(1e-7));
}

TEST_CASE("rope: both layouts, partial rotation, positions up to 2^31-1", "[rope]") {
  const bool neox = GENERATE(false, true);
  const int head_dim = GENERATE(64, 128);
  const int rot_div = GENERATE(1, 2);  // rot_dim = head_dim / rot_div
  const RopeScaling scaling = GENERATE(RopeScaling::kNone, RopeScaling::kLlama3);
  RopeConfig c = llama31_8b();
  c.head_dim = head_dim;
  c.rot_dim = head_dim / rot_div;
  c.neox = neox;
  c.scaling = scaling;
  const int heads = 3;
  const std::vector<int32_t> pos = {0, 1, 2, 17, 4095, 8191, 131071, 999999, 1000000, 1048575,
                                    2147483647, -1};
  auto x = test::random_floats(pos.size() * heads * head_dim, 5, -2.f, 2.f);
  const auto inv = kernels::cpu::rope_inv_freq(c);
  const auto ref = reference_rope(x, pos, heads, c, inv);
  kernels::cpu::rope(x.data(), pos.data(), int64_t(pos.size()), heads, c, inv.data());
  INFO("neox=" << neox << " head_dim=" << head_dim << " rot_dim=" << c.rot_dim);
  double worst = 0;
  for (size_t e = 0; e < x.size(); ++e) worst = std::max(worst, std::fabs(x[e] - ref[e]));
  // |x| <= 2 * sqrt(2) after rotation: 2e-6 is a few float ulps, while forming
  // the angle in float would be off by ~0.03 rad at position 1e6.
  CHECK(worst <= 2e-6);
  // Dimensions past rot_dim are untouched, bit for bit.
  if (c.rot_dim < head_dim) {
    const auto orig = test::random_floats(pos.size() * heads * head_dim, 5, -2.f, 2.f);
    for (size_t r = 0; r < pos.size() * heads; ++r)
      for (int k = c.rot_dim; k < head_dim; ++k) CHECK(x[r * head_dim + k] == orig[r * head_dim + k]);
  }
}

TEST_CASE("rope: position 0 is the identity, rotation preserves pair norms", "[rope]") {
  RopeConfig c;
  c.head_dim = c.rot_dim = 64;
  const auto inv = kernels::cpu::rope_inv_freq(c);
  auto x = test::random_floats(2 * 64, 9);
  const auto x0 = x;
  const std::vector<int32_t> pos = {0, 123456};
  kernels::cpu::rope(x.data(), pos.data(), 2, 1, c, inv.data());
  for (int k = 0; k < 64; ++k) CHECK(x[k] == x0[k]);
  for (int i = 0; i < 32; ++i) {
    const double before = std::hypot(x0[64 + 2 * i], x0[64 + 2 * i + 1]);
    const double after = std::hypot(x[64 + 2 * i], x[64 + 2 * i + 1]);
    CHECK(after == Approx(before).epsilon(1e-6));
  }
}

}  // namespace ringlm
