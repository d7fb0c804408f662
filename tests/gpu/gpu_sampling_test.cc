// kernels/cuda/sampling.h against plain loops.
#include <cuda_runtime_api.h>

#include <cmath>
#include <limits>

#include "cuda/sampling.h"
#include "gpu_test_util.h"
#include "test_util.h"

namespace ringlm::test {
namespace {

TEST_CASE("argmax", "[gpu][sampling]") {
  Backend& g = cuda_backend();
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(g));
  const int64_t rows = GENERATE(1, 3);
  const int64_t n = GENERATE(10, 32000, 128256);
  auto x = random_floats(size_t(rows * n), 21, -5.f, 5.f);
  // Row 0: a tie (first index wins) and a NaN that must be ignored.
  x[size_t(n / 3)] = 9.f;
  x[size_t(n / 2)] = 9.f;
  x[size_t(n - 1)] = std::numeric_limits<float>::quiet_NaN();
  Buffer gx = upload(g, x);
  auto out = g.alloc(sizeof(int32_t) * size_t(rows));
  require_ok(out.status());
  REQUIRE(kernels::cuda::argmax(gx.as<float>(), out->as<int32_t>(), rows, n, stream) == cudaSuccess);
  const auto got = download<int32_t>(g, out->data(), size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = -1;
    for (int64_t j = 0; j < n; ++j) {
      const float v = x[size_t(r * n + j)];
      if (std::isnan(v)) continue;
      if (best < 0 || v > x[size_t(r * n + best)]) best = j;
    }
    CHECK(got[size_t(r)] == best);
  }
}

TEST_CASE("softmax", "[gpu][sampling]") {
  Backend& g = cuda_backend();
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(g));
  const int64_t rows = GENERATE(1, 4);
  const int64_t n = GENERATE(10, 32000);
  const float temperature = GENERATE(0.7f, 1.f, 2.f);
  auto x = random_floats(size_t(rows * n), 22, -20.f, 20.f);
  Buffer gx = upload(g, x);
  REQUIRE(kernels::cuda::softmax(gx.as<float>(), gx.as<float>(), rows, n, temperature, stream) ==
          cudaSuccess);
  const auto got = download<float>(g, gx.data(), x.size());
  std::vector<double> want(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -1e300, sum = 0.0;
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, double(x[size_t(r * n + j)]) / temperature);
    for (int64_t j = 0; j < n; ++j) sum += std::exp(double(x[size_t(r * n + j)]) / temperature - mx);
    for (int64_t j = 0; j < n; ++j)
      want[size_t(r * n + j)] = std::exp(double(x[size_t(r * n + j)]) / temperature - mx) / sum;
  }
  expect_close(got, want, {1e-9, 1e-4}, "softmax");
}

}  // namespace
}  // namespace ringlm::test
