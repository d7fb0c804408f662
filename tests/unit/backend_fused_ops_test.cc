// The fused Backend ops against the plain ones they replace: matmul_add
// (y += x W^T) and swiglu_matmul_add (y += swiglu(gate, up) W^T), on the CPU
// backend (its BLAS beta = 1 path) and through the Backend base class's
// default implementations (what a backend without its own override gets),
// and gather_blocks (the paged KV store's gather) in both forms.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "forwarding_backend.h"
#include "test_util.h"

namespace ringlm {
namespace {

// Forwards the required ops to a CPU backend and keeps the base class's
// defaults for matmul_add, swiglu_matmul_add and gather_blocks.
class DefaultsBackend final : public test::ForwardingBackend {
 public:
  DefaultsBackend() : ForwardingBackend(make_cpu_backend({1}), true) {}
  std::string_view name() const override { return "defaults"; }
};

// y0 + A W^T in double, A [m, k], W [n, k].
std::vector<double> reference(const std::vector<float>& a, const std::vector<float>& w,
                              const std::vector<float>& y0, int64_t m, int64_t n, int64_t k) {
  std::vector<double> r(size_t(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = y0[size_t(i * n + j)];
      for (int64_t c = 0; c < k; ++c) s += double(a[size_t(i * k + c)]) * w[size_t(j * k + c)];
      r[size_t(i * n + j)] = s;
    }
  return r;
}

TEST_CASE("fused GEMM ops equal the ops they replace", "[backend][matmul]") {
  const bool defaults = GENERATE(false, true);
  const int64_t m = GENERATE(1, 7, 64);
  const auto nk = GENERATE(std::pair<int64_t, int64_t>{16, 32}, std::pair<int64_t, int64_t>{100, 48});
  const bool swiglu = GENERATE(false, true);
  const int64_t n = nk.first, k = nk.second;
  CAPTURE(defaults, m, n, k, swiglu);
  std::unique_ptr<Backend> be = defaults ? std::unique_ptr<Backend>(new DefaultsBackend())
                                         : make_cpu_backend({1});
  auto x = test::random_floats(size_t(m * k), 1), up = test::random_floats(size_t(m * k), 2);
  const auto w = test::random_floats(size_t(n * k), 3), y0 = test::random_floats(size_t(m * n), 4, -5.f, 5.f);
  auto wt = be->make_weight(w.data(), n, k);
  REQUIRE(wt.ok());
  std::vector<float> a = x;  // the GEMM input
  if (swiglu)
    for (size_t i = 0; i < a.size(); ++i) a[i] = x[i] / (1.f + std::exp(-x[i])) * up[i];
  std::vector<float> y = y0;
  if (swiglu) {
    REQUIRE(be->swiglu_matmul_add(x.data(), up.data(), **wt, y.data(), m).ok());
  } else {
    REQUIRE(be->matmul_add(x.data(), **wt, y.data(), m).ok());
  }
  const auto ref = reference(a, w, y0, m, n, k);
  int bad = 0;
  for (size_t i = 0; i < y.size(); ++i) bad += !(std::fabs(y[i] - ref[i]) <= 1e-5 * (1 + std::fabs(ref[i])));
  CHECK(bad == 0);
}

TEST_CASE("gather_blocks concatenates blocks in order", "[backend][kv]") {
  const bool defaults = GENERATE(false, true);
  std::unique_ptr<Backend> be = defaults ? std::unique_ptr<Backend>(new DefaultsBackend())
                                         : make_cpu_backend({1});
  const int64_t row = 6;
  std::vector<float> k(60), v(60);
  std::vector<int32_t> pos(10);
  for (size_t i = 0; i < k.size(); ++i) k[i] = float(i), v[i] = -float(i);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = int32_t(100 + i);
  // Rows 7..9, then 0..3, an empty block, then 4..6.
  const kernels::KeyBlock blocks[] = {{k.data() + 7 * row, v.data() + 7 * row, pos.data() + 7, 3},
                                      {k.data(), v.data(), pos.data(), 4},
                                      {k.data(), v.data(), pos.data(), 0},
                                      {k.data() + 4 * row, v.data() + 4 * row, pos.data() + 4, 3}};
  std::vector<float> gk(60, -1.f), gv(60, -1.f);
  std::vector<int32_t> gp(10, -1);
  REQUIRE(be->gather_blocks(blocks, 4, row * int64_t(sizeof(float)), gk.data(), gv.data(), gp.data())
              .ok());
  const int order[] = {7, 8, 9, 0, 1, 2, 3, 4, 5, 6};
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    CHECK(gp[size_t(i)] == 100 + order[i]);
    for (int c = 0; c < row; ++c) {
      CHECK(gk[size_t(i * row + c)] == k[size_t(order[i] * row + c)]);
      CHECK(gv[size_t(i * row + c)] == v[size_t(order[i] * row + c)]);
    }
  }

  // A negative block length is refused before anything is copied.
  const kernels::KeyBlock bad[] = {{k.data(), v.data(), pos.data(), -2}};
  std::fill(gp.begin(), gp.end(), -1);
  const Status st = be->gather_blocks(bad, 1, row * int64_t(sizeof(float)), gk.data(), gv.data(), gp.data());
  CHECK(st.code() == StatusCode::kInvalidArgument);
  CHECK(std::all_of(gp.begin(), gp.end(), [](int32_t p) { return p == -1; }));
}

TEST_CASE("a backend without attention over blocks says so", "[backend][attention]") {
  DefaultsBackend be;
  CHECK_FALSE(be.has_attention_blocks());
  kernels::AttentionParams p;
  CHECK(be.attention_partial_blocks(p, nullptr, 0).code() == StatusCode::kUnsupported);
}

}  // namespace
}  // namespace ringlm
