// cpu::rmsnorm against a double reference, in place and out of place, over
// widths and magnitudes (including values whose squares overflow float).
//
// Tolerance: |got - ref| <= 2e-6 * (1 + |ref|).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "cpu/rmsnorm.h"
#include "test_util.h"

namespace ringlm {

TEST_CASE("rmsnorm: matches the double reference", "[rmsnorm]") {
  const int64_t dim = GENERATE(1, 7, 64, 576, 4096, 5000);
  const int64_t rows = GENERATE(1, 3, 130);
  const float magnitude = GENERATE(1e-3f, 1.f, 1e4f, 1e20f);
  const bool in_place = GENERATE(false, true);
  const float eps = 1e-5f;
  INFO("dim=" << dim << " rows=" << rows << " magnitude=" << magnitude << " in_place=" << in_place);
  auto x = test::random_floats(size_t(rows * dim), 3, -magnitude, magnitude);
  const auto w = test::random_floats(size_t(dim), 4, 0.5f, 1.5f);
  std::vector<double> ref(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < dim; ++c) ss += double(x[r * dim + c]) * x[r * dim + c];
    const double s = 1.0 / std::sqrt(ss / dim + eps);
    for (int64_t c = 0; c < dim; ++c) ref[r * dim + c] = x[r * dim + c] * s * w[c];
  }
  std::vector<float> y(x.size(), 0.f);
  float* out = in_place ? x.data() : y.data();
  kernels::cpu::rmsnorm(x.data(), w.data(), out, rows, dim, eps);
  int bad = 0;
  for (size_t e = 0; e < ref.size(); ++e) bad += !(std::fabs(out[e] - ref[e]) <= 2e-6 * (1 + std::fabs(ref[e])));
  CHECK(bad == 0);
}

TEST_CASE("rmsnorm: a zero row gives zeros (eps keeps it finite)", "[rmsnorm]") {
  std::vector<float> x(16, 0.f), w(16, 1.f), y(16, 9.f);
  kernels::cpu::rmsnorm(x.data(), w.data(), y.data(), 1, 16, 1e-6f);
  for (float v : y) CHECK(v == 0.f);
}

}  // namespace ringlm
