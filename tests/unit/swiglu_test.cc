// cpu::swiglu against a double reference (in place and out of place, inputs
// from tiny to saturating), and cpu::embedding row gathers.
//
// Tolerance: |got - ref| <= 2e-6 * (1 + |ref|).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "cpu/embedding.h"
#include "cpu/swiglu.h"
#include "test_util.h"

namespace ringlm {

TEST_CASE("swiglu: matches silu(gate) * up in double", "[swiglu]") {
  const int64_t n = GENERATE(1, 5, 1000, 100003);
  const float range = GENERATE(1.f, 10.f, 200.f);
  const bool in_place = GENERATE(false, true);
  INFO("n=" << n << " range=" << range << " in_place=" << in_place);
  auto gate = test::random_floats(size_t(n), 1, -range, range);
  const auto up = test::random_floats(size_t(n), 2, -2.f, 2.f);
  std::vector<double> ref(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    ref[i] = g / (1.0 + std::exp(-g)) * up[i];
  }
  std::vector<float> out(size_t(n), 0.f);
  float* dst = in_place ? gate.data() : out.data();
  kernels::cpu::swiglu(gate.data(), up.data(), dst, n);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += !(std::fabs(dst[i] - ref[i]) <= 2e-6 * (1 + std::fabs(ref[i])));
  CHECK(bad == 0);
}

TEST_CASE("swiglu: extreme gates", "[swiglu]") {
  const std::vector<float> gate = {0.f, -0.f, 1e-30f, -1e-30f, 87.f, 88.5f, 1e4f, -87.f, -88.5f,
                                   -1e4f, INFINITY};
  const std::vector<float> up(gate.size(), 1.f);
  std::vector<float> out(gate.size());
  kernels::cpu::swiglu(gate.data(), up.data(), out.data(), int64_t(gate.size()));
  for (size_t i = 0; i + 1 < gate.size(); ++i) {
    const double g = gate[i], ref = g / (1.0 + std::exp(-g));
    INFO("gate=" << g);
    CHECK(std::fabs(out[i] - ref) <= 2e-6 * (1 + std::fabs(ref)));
  }
  CHECK(out[gate.size() - 1] == INFINITY);  // silu(+inf) = +inf
}

TEST_CASE("embedding: gathers rows", "[embedding]") {
  const int64_t vocab = 50, dim = GENERATE(1, 64, 576);
  const auto table = test::random_floats(size_t(vocab * dim), 3);
  const std::vector<int32_t> ids = {0, 49, 7, 7, 3};
  std::vector<float> out(ids.size() * dim, -1.f);
  kernels::cpu::embedding(table.data(), ids.data(), out.data(), int64_t(ids.size()), dim);
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t c = 0; c < dim; ++c) CHECK(out[i * dim + c] == table[ids[i] * dim + c]);
}

}  // namespace ringlm
