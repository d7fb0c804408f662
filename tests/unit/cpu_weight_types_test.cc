// The CPU backend's bf16 and 8-bit weights: every GEMM shape (the direct
// path for up to 4 rows, widened blocks and sgemm beyond), matmul_add's
// accumulation, biases and embedding rows equal the f32 backend's over the
// same rounded weights, up to the order of the sums.
#include <catch2/catch.hpp>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "cpu/convert.h"
#include "cpu/matmul_bf16.h"
#include "cpu/matmul_q8.h"
#include "test_util.h"

using namespace ringlm;

namespace {

// Random [n, k] weights already on the grid of `kind`, so that both backends
// hold the same values.
std::vector<float> rounded_values(CpuWeights kind, int64_t n, int64_t k, uint32_t seed) {
  std::vector<float> v = test::random_floats(n * k, seed, -1.f, 1.f);
  if (kind == CpuWeights::kBF16) {
    std::vector<uint16_t> b(v.size());
    kernels::cpu::f32_to_bf16(v.data(), b.data(), n * k);
    kernels::cpu::bf16_to_f32(b.data(), v.data(), n * k);
  } else if (kind == CpuWeights::kQ8) {
    const int64_t kp = kernels::cpu::q8_padded_cols(k);
    std::vector<int8_t> q(size_t(n * kp));
    std::vector<float> d(size_t(n * kp / kernels::cpu::kQ8Block));
    kernels::cpu::quantize_q8_rows(v.data(), n, k, q.data(), d.data());
    for (int64_t r = 0; r < n; ++r) kernels::cpu::widen_q8_row(q.data(), d.data(), k, r, v.data() + r * k);
  }
  return v;
}

}  // namespace

TEST_CASE("bf16 and 8-bit weights multiply as the f32 weights they round to", "[backend]") {
  const CpuWeights kind = GENERATE(CpuWeights::kBF16, CpuWeights::kQ8);
  const int threads = GENERATE(1, 2);
  const int64_t rows = GENERATE(int64_t(1), 2, 3, 4, 5, 17, 64);
  // Not multiples of the 16-row slices or of vector widths; k so long that a
  // thread's slice of W is widened in several blocks (about 1 MiB each).
  const int64_t n = 133, k = 4099;
  INFO((kind == CpuWeights::kQ8 ? "q8" : "bf16") << " threads " << threads << " rows " << rows);
  auto f32 = make_cpu_backend({threads, CpuWeights::kF32});
  auto bf16 = make_cpu_backend({threads, kind});
  REQUIRE(kernels::cpu::matmul_widened_scratch_floats(k) / k < 64);  // rows per block
  const std::vector<float> w = rounded_values(kind, n, k, 7);
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

TEST_CASE("bf16 and 8-bit embedding rows are the rounded table's rows", "[backend]") {
  const CpuWeights kind = GENERATE(CpuWeights::kBF16, CpuWeights::kQ8);
  auto bf16 = make_cpu_backend({1, kind});
  const int64_t vocab = 50, dim = 37;  // 8-bit rows: a whole block and a partial one
  const std::vector<float> table = rounded_values(kind, vocab, dim, 3);
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

TEST_CASE("8-bit weights stay within half a step of their block", "[backend]") {
  const int64_t n = 7, k = 77;
  std::vector<float> w = test::random_floats(n * k, 5, -3.f, 3.f);
  for (int64_t c = 0; c < 32; ++c) w[c] = 0.f;  // an all-zero block
  const int64_t kp = kernels::cpu::q8_padded_cols(k);
  REQUIRE(kp == 96);
  std::vector<int8_t> q(size_t(n * kp), 99);
  std::vector<float> d(size_t(n * kp / 32));
  kernels::cpu::quantize_q8_rows(w.data(), n, k, q.data(), d.data());
  std::vector<float> back(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    kernels::cpu::widen_q8_row(q.data(), d.data(), k, r, back.data());
    for (int64_t c = 0; c < k; ++c) {
      float amax = 0;
      for (int64_t j = c / 32 * 32; j < std::min(k, c / 32 * 32 + 32); ++j)
        amax = std::max(amax, std::fabs(w[r * k + j]));
      CHECK(std::fabs(back[c] - w[r * k + c]) <= 0.5f * amax / 127 * (1 + 1e-5f));
    }
    for (int64_t c = k; c < kp; ++c) CHECK(q[size_t(r * kp + c)] == 0);  // padding
  }
  CHECK(d[0] == 0.f);
}
