// The CPU backend's bf16 weights: every GEMM shape (the direct path for up
// to 4 rows, widened blocks and sgemm beyond), matmul_add's accumulation,
// biases and embedding rows equal the f32 backend's over the same rounded
// weights, up to the order of the sums.
#include <catch2/catch.hpp>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "cpu/convert.h"
#include "cpu/matmul_bf16.h"
#include "test_util.h"

using namespace ringlm;

namespace {

// Values already on the bf16 grid, so both backends hold the same weights.
std::vector<float> bf16_values(int64_t n, uint32_t seed) {
  std::vector<float> v = test::random_floats(n, seed, -1.f, 1.f);
  std::vector<uint16_t> b(v.size());
  kernels::cpu::f32_to_bf16(v.data(), b.data(), n);
  kernels::cpu::bf16_to_f32(b.data(), v.data(), n);
  return v;
}

}  // namespace

TEST_CASE("bf16 weights multiply as the f32 weights they round to", "[backend]") {
  const int threads = GENERATE(1, 2);
  const int64_t rows = GENERATE(int64_t(1), 2, 3, 4, 5, 17, 64);
  // Not multiples of the 16-row slices or of vector widths; k so long that a
  // thread's slice of W is widened in several blocks (about 1 MiB each).
  const int64_t n = 133, k = 4099;
  INFO("threads " << threads << " rows " << rows);
  auto f32 = make_cpu_backend({threads, false});
  auto bf16 = make_cpu_backend({threads, true});
  REQUIRE(kernels::cpu::matmul_bf16_scratch_floats(k) / k < 64);  // rows per block
  const std::vector<float> w = bf16_values(n * k, 7);
  const std::vector<float> x = test::random_floats(rows * k, 8, -1.f, 1.f);
  const std::vector<float> bias = test::random_floats(n, 9, -1.f, 1.f);
  auto wf = f32->make_weight(w.data(), n, k);
  auto wb = bf16->make_weight(w.data(), n, k);
  REQUIRE(wf.ok());
  REQUIRE(wb.ok());
  auto near = [&](const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const double d = std::fabs(double(a[i]) - b[i]);
      worst = std::isnan(d) ? INFINITY : std::max(worst, d);  // a NaN fails
      if (std::isinf(worst)) break;
    }
    INFO("max |diff| " << worst);
    CHECK(worst <= 1e-5 * std::sqrt(double(k)));  // |products| <= 1: rounding of k-term sums
  };
  // y = x W^T + bias, over outputs that hold NaN first (beta 0 overwrites).
  std::vector<float> yf(rows * n, std::nanf("")), yb(rows * n, std::nanf(""));
  REQUIRE(f32->matmul(x.data(), *wf.value(), bias.data(), yf.data(), rows).ok());
  REQUIRE(bf16->matmul(x.data(), *wb.value(), bias.data(), yb.data(), rows).ok());
  near(yf, yb);
  // y += x W^T
  REQUIRE(f32->matmul_add(x.data(), *wf.value(), yf.data(), rows).ok());
  REQUIRE(bf16->matmul_add(x.data(), *wb.value(), yb.data(), rows).ok());
  near(yf, yb);
}

TEST_CASE("bf16 embedding rows are the rounded table's rows", "[backend]") {
  auto bf16 = make_cpu_backend({1, true});
  const int64_t vocab = 50, dim = 37;
  const std::vector<float> table = bf16_values(vocab * dim, 3);
  auto t = bf16->make_weight(table.data(), vocab, dim);
  REQUIRE(t.ok());
  const std::vector<int32_t> ids{0, 49, 7, 7};
  std::vector<float> out(ids.size() * dim);
  REQUIRE(bf16->embedding(*t.value(), ids.data(), out.data(), int64_t(ids.size())).ok());
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t c = 0; c < dim; ++c) CHECK(out[i * dim + c] == table[ids[i] * dim + c]);
  const int32_t bad = 50;
  CHECK(bf16->embedding(*t.value(), &bad, out.data(), 1).code() == StatusCode::kInvalidArgument);
}
