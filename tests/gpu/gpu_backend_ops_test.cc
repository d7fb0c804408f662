// Every Backend op on CudaBackend against the CPU backend (same random
// inputs), in the spirit of ggml's test-backend-ops. Where the CUDA backend
// rounds to bf16 (weights, GEMM inputs, attention inputs) it is also compared
// with a float64 reference of the bf16-rounded inputs, which is much tighter.
//
// Tolerances (|got - want| <= abs + rel * |want|):
//   add, fill, copies, embedding vs bf16 table  exact
//   rmsnorm, swiglu, merge_partials, rope       1e-5 rel (f32 rounding)
//   embedding vs CPU f32 table                  2^-8 rel (bf16 rounding)
//   matmul vs CPU f32                           1e-2 of the row's sum |x||w|
//   matmul vs f64 of bf16 inputs                1e-5 of the row's sum |x||w|
//   attention out vs f64 reference              2e-3 abs + 2e-2 rel
//   attention lse vs f64 reference              2e-2 abs (1e-4 when q = 0,
//     where lse = log(#visible keys) exactly: a one-key mask error shows)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "attention_cases.h"
#include "cpu/dequantize.h"
#include "gpu_test_util.h"
#include "test_util.h"

namespace ringlm::test {
namespace {

Backend& cpu_backend() {
  static std::unique_ptr<Backend> b = make_cpu_backend();
  return *b;
}

float bf16_round(float x) { return kernels::cpu::bf16_to_fp32(kernels::cpu::fp32_to_bf16(x)); }

// The two backends under comparison.
struct Both {
  Backend& cpu = cpu_backend();
  Backend& gpu = cuda_backend();
};

TEST_CASE("memory: alloc, copies, fill", "[gpu][memory]") {
  Backend& g = cuda_backend();
  CHECK(g.name() == "cuda");
  CHECK_FALSE(g.host_memory());
  const size_t n = GENERATE(1, 7, 1000, 1 << 20);
  auto x = random_floats(n, 1);
  Buffer a = upload(g, x);
  auto rb = g.alloc(sizeof(float) * n);
  require_ok(rb.status());
  Buffer b = std::move(rb).value();
  require_ok(g.copy(b.data(), a.data(), sizeof(float) * n));
  CHECK(download<float>(g, b.data(), n) == x);
  require_ok(g.fill(b.as<float>(), 2.5f, int64_t(n)));
  CHECK(download<float>(g, b.data(), n) == std::vector<float>(n, 2.5f));
}

TEST_CASE("errors become Status and leave the backend usable", "[gpu][errors]") {
  Backend& g = cuda_backend();
  auto huge = g.alloc(size_t(1) << 52);
  CHECK(huge.status().code() == StatusCode::kResourceExhausted);
  // A weight of another backend.
  std::vector<float> w(16, 1.f);
  auto cw = cpu_backend().make_weight(w.data(), 4, 4);
  require_ok(cw.status());
  Buffer x = upload(g, std::vector<float>(4, 1.f));
  Buffer y = upload(g, std::vector<float>(4, 0.f));
  CHECK(g.matmul(x.as<float>(), *cw.value(), nullptr, y.as<float>(), 1).code() ==
        StatusCode::kInvalidArgument);
  // Token id out of range.
  auto gw = g.make_weight(w.data(), 4, 4);
  require_ok(gw.status());
  const int32_t bad_ids[2] = {1, 4};
  CHECK(g.embedding(*gw.value(), bad_ids, y.as<float>(), 2).code() == StatusCode::kInvalidArgument);
  // Head dim beyond the kernels.
  kernels::AttentionParams p;
  p.tq = p.tk = 1;
  p.hq = p.hkv = 1;
  p.d = 512;
  p.q = x.as<float>();
  p.k = p.v = x.data();
  CHECK(g.attention_partial(p).code() == StatusCode::kUnsupported);
  // Still works afterwards.
  require_ok(g.fill(y.as<float>(), 1.f, 4));
  CHECK(download<float>(g, y.data(), 4) == std::vector<float>(4, 1.f));
}

TEST_CASE("add", "[gpu][elementwise]") {
  Both b;
  const int64_t n = GENERATE(1, 33, 100003);
  auto y0 = random_floats(size_t(n), 2), x = random_floats(size_t(n), 3);
  Buffer gy = upload(b.gpu, y0), gx = upload(b.gpu, x);
  require_ok(b.gpu.add(gy.as<float>(), gx.as<float>(), n));
  std::vector<float> want = y0;
  require_ok(b.cpu.add(want.data(), x.data(), n));
  CHECK(download<float>(b.gpu, gy.data(), size_t(n)) == want);
}

TEST_CASE("swiglu", "[gpu][elementwise]") {
  Both b;
  const int64_t n = GENERATE(1, 1000, 100003);
  auto gate = random_floats(size_t(n), 4, -10.f, 10.f), up = random_floats(size_t(n), 5, -3.f, 3.f);
  Buffer gg = upload(b.gpu, gate), gu = upload(b.gpu, up);
  auto ro = b.gpu.alloc(sizeof(float) * size_t(n));
  require_ok(ro.status());
  require_ok(b.gpu.swiglu(gg.as<float>(), gu.as<float>(), ro->as<float>(), n));
  std::vector<float> want(static_cast<size_t>(n));
  require_ok(b.cpu.swiglu(gate.data(), up.data(), want.data(), n));
  expect_close(download<float>(b.gpu, ro->data(), size_t(n)), want, {1e-6, 1e-5}, "swiglu");
  // In place (out aliases gate).
  require_ok(b.gpu.swiglu(gg.as<float>(), gu.as<float>(), gg.as<float>(), n));
  expect_close(download<float>(b.gpu, gg.data(), size_t(n)), want, {1e-6, 1e-5}, "swiglu in place");
}

TEST_CASE("rmsnorm", "[gpu][norm]") {
  Both b;
  const int64_t rows = GENERATE(1, 5, 64);
  const int64_t dim = GENERATE(64, 576, 4096, 5000);
  const float eps = 1e-5f;
  auto x = random_floats(size_t(rows * dim), 6, -4.f, 4.f), w = random_floats(size_t(dim), 7, 0.5f, 1.5f);
  Buffer gx = upload(b.gpu, x), gw = upload(b.gpu, w);
  auto ry = b.gpu.alloc(sizeof(float) * x.size());
  require_ok(ry.status());
  require_ok(b.gpu.rmsnorm(gx.as<float>(), gw.as<float>(), ry->as<float>(), rows, dim, eps));
  std::vector<float> want(x.size());
  require_ok(b.cpu.rmsnorm(x.data(), w.data(), want.data(), rows, dim, eps));
  expect_close(download<float>(b.gpu, ry->data(), x.size()), want, {1e-6, 1e-5}, "rmsnorm");
  require_ok(b.gpu.rmsnorm(gx.as<float>(), gw.as<float>(), gx.as<float>(), rows, dim, eps));
  expect_close(download<float>(b.gpu, gx.data(), x.size()), want, {1e-6, 1e-5}, "rmsnorm in place");
}

TEST_CASE("rope", "[gpu][rope]") {
  Both b;
  kernels::RopeConfig cfg;
  cfg.head_dim = GENERATE(64, 128);
  cfg.rot_dim = GENERATE_COPY(values({cfg.head_dim, cfg.head_dim / 2}));
  cfg.neox = GENERATE(false, true);
  const int scaling = GENERATE(0, 1, 2);
  cfg.theta = scaling == 2 ? 500000.f : 10000.f;
  cfg.scaling = scaling == 0   ? kernels::RopeScaling::kNone
                : scaling == 1 ? kernels::RopeScaling::kLinear
                               : kernels::RopeScaling::kLlama3;
  cfg.factor = scaling == 0 ? 1.f : (scaling == 1 ? 4.f : 8.f);
  const int64_t rows = GENERATE(1, 33, 300);
  const int heads = GENERATE(1, 4);
  const int32_t max_pos = GENERATE(512, 131072);
  CAPTURE(cfg.head_dim, cfg.rot_dim, cfg.neox, scaling, rows, heads, max_pos);
  auto x = random_floats(size_t(rows * heads * cfg.head_dim), 8);
  std::vector<int32_t> pos(static_cast<size_t>(rows));
  std::mt19937 rng(9);
  for (auto& p : pos) p = int32_t(rng() % uint32_t(max_pos));
  Buffer gx = upload(b.gpu, x), gp = upload(b.gpu, pos);
  require_ok(b.gpu.rope(gx.as<float>(), gp.as<int32_t>(), rows, heads, cfg));
  std::vector<float> want = x;
  require_ok(b.cpu.rope(want.data(), pos.data(), rows, heads, cfg));
  // Angles up to ~1.3e5 rad: both sides reduce them accurately, so the rotated
  // values agree to f32 rounding of the products.
  expect_close(download<float>(b.gpu, gx.data(), x.size()), want, {2e-5, 1e-5}, "rope");
}

TEST_CASE("embedding", "[gpu][embedding]") {
  Both b;
  const int64_t vocab = 1000, dim = GENERATE(64, 96, 576);
  const int64_t n = GENERATE(1, 7, 300);
  auto table = random_floats(size_t(vocab * dim), 10, -2.f, 2.f);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  std::mt19937 rng(11);
  for (auto& id : ids) id = int32_t(rng() % uint32_t(vocab));
  ids[0] = int32_t(vocab - 1);
  auto gw = b.gpu.make_weight(table.data(), vocab, dim);
  auto cw = b.cpu.make_weight(table.data(), vocab, dim);
  require_ok(gw.status());
  require_ok(cw.status());
  auto go = b.gpu.alloc(sizeof(float) * size_t(n * dim));
  require_ok(go.status());
  require_ok(b.gpu.embedding(*gw.value(), ids.data(), go->as<float>(), n));
  std::vector<float> want(size_t(n * dim));
  require_ok(b.cpu.embedding(*cw.value(), ids.data(), want.data(), n));
  const auto got = download<float>(b.gpu, go->data(), want.size());
  expect_close(got, want, {0.0, 1.0 / 256}, "embedding vs f32 table");
  std::vector<float> want_bf16 = want;
  for (auto& v : want_bf16) v = bf16_round(v);
  CHECK(got == want_bf16);
}

TEST_CASE("matmul", "[gpu][matmul]") {
  Both b;
  const int64_t m = GENERATE(1, 3, 17, 64, 130);
  const auto nk = GENERATE(std::pair<int64_t, int64_t>{64, 64}, std::pair<int64_t, int64_t>{96, 200},
                           std::pair<int64_t, int64_t>{256, 128}, std::pair<int64_t, int64_t>{1000, 96},
                           std::pair<int64_t, int64_t>{49, 576});
  const bool with_bias = GENERATE(false, true);
  const int64_t n = nk.first, k = nk.second;
  CAPTURE(m, n, k, with_bias);
  auto x = random_floats(size_t(m * k), 12), w = random_floats(size_t(n * k), 13);
  auto bias = random_floats(size_t(n), 14);
  auto gw = b.gpu.make_weight(w.data(), n, k);
  auto cw = b.cpu.make_weight(w.data(), n, k);
  require_ok(gw.status());
  require_ok(cw.status());
  Buffer gx = upload(b.gpu, x), gb = upload(b.gpu, bias);
  auto gy = b.gpu.alloc(sizeof(float) * size_t(m * n));
  require_ok(gy.status());
  require_ok(b.gpu.matmul(gx.as<float>(), *gw.value(), with_bias ? gb.as<float>() : nullptr,
                          gy->as<float>(), m));
  const auto got = download<float>(b.gpu, gy->data(), size_t(m * n));
  std::vector<float> cpu(size_t(m * n));
  require_ok(b.cpu.matmul(x.data(), *cw.value(), with_bias ? bias.data() : nullptr, cpu.data(), m));
  // Per-element bound scaled by sum_k |x||w| (the size of what was summed).
  size_t bad_cpu = 0, bad_ref = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double ref = with_bias ? bias[size_t(j)] : 0.0, mag = 0.0;
      for (int64_t c = 0; c < k; ++c) {
        const double xv = bf16_round(x[size_t(i * k + c)]), wv = bf16_round(w[size_t(j * k + c)]);
        ref += xv * wv;
        mag += std::fabs(xv * wv);
      }
      const double g = got[size_t(i * n + j)];
      if (!(std::fabs(g - cpu[size_t(i * n + j)]) <= 1e-2 * mag + 1e-6)) ++bad_cpu;
      if (!(std::fabs(g - ref) <= 1e-5 * mag + 1e-6)) ++bad_ref;
    }
  }
  CHECK(bad_cpu == 0);
  CHECK(bad_ref == 0);
}

// y0 + A W^T in float64 from the bf16-rounded A and W, with sum |a w| per element.
void fused_reference(const std::vector<float>& a, const std::vector<float>& w,
                     const std::vector<float>& y0, int64_t m, int64_t n, int64_t k,
                     std::vector<double>* ref, std::vector<double>* mag) {
  ref->assign(size_t(m * n), 0.0);
  mag->assign(size_t(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double r = y0[size_t(i * n + j)], g = 0.0;
      for (int64_t c = 0; c < k; ++c) {
        const double av = bf16_round(a[size_t(i * k + c)]), wv = bf16_round(w[size_t(j * k + c)]);
        r += av * wv;
        g += std::fabs(av * wv);
      }
      (*ref)[size_t(i * n + j)] = r;
      (*mag)[size_t(i * n + j)] = g + std::fabs(y0[size_t(i * n + j)]);
    }
}

TEST_CASE("matmul_add and swiglu_matmul_add (fused residual / activation)", "[gpu][matmul]") {
  Both b;
  const int64_t m = GENERATE(1, 17, 130);
  const auto nk = GENERATE(std::pair<int64_t, int64_t>{64, 64}, std::pair<int64_t, int64_t>{96, 200},
                           std::pair<int64_t, int64_t>{49, 576});
  const bool swiglu = GENERATE(false, true);
  const int64_t n = nk.first, k = nk.second;
  CAPTURE(m, n, k, swiglu);
  auto x = random_floats(size_t(m * k), 21), up = random_floats(size_t(m * k), 22);
  auto w = random_floats(size_t(n * k), 23), y0 = random_floats(size_t(m * n), 24, -3.f, 3.f);
  auto gw = b.gpu.make_weight(w.data(), n, k);
  auto cw = b.cpu.make_weight(w.data(), n, k);
  require_ok(gw.status());
  require_ok(cw.status());
  Buffer gx = upload(b.gpu, x), gu = upload(b.gpu, up), gy = upload(b.gpu, y0);
  std::vector<float> cx = x, cy = y0;
  if (swiglu) {
    require_ok(b.gpu.swiglu_matmul_add(gx.as<float>(), gu.as<float>(), *gw.value(), gy.as<float>(), m));
    require_ok(b.cpu.swiglu_matmul_add(cx.data(), up.data(), *cw.value(), cy.data(), m));
  } else {
    require_ok(b.gpu.matmul_add(gx.as<float>(), *gw.value(), gy.as<float>(), m));
    require_ok(b.cpu.matmul_add(cx.data(), *cw.value(), cy.data(), m));
  }
  const auto got = download<float>(b.gpu, gy.data(), size_t(m * n));
  // The GEMM input: x, or silu(x) * up computed in f32 as both backends do.
  std::vector<float> a = x;
  if (swiglu)
    for (size_t i = 0; i < a.size(); ++i) a[i] = x[i] / (1.f + std::exp(-x[i])) * up[i];
  std::vector<double> ref, mag;
  fused_reference(a, w, y0, m, n, k, &ref, &mag);
  size_t bad_cpu = 0, bad_ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - cy[i]) <= 1e-2 * mag[i] + 1e-6)) ++bad_cpu;
    if (!(std::fabs(got[i] - ref[i]) <= 1e-5 * mag[i] + 1e-5)) ++bad_ref;
  }
  CHECK(bad_cpu == 0);
  CHECK(bad_ref == 0);
}

TEST_CASE("a GEMM input changed between GEMMs is converted again", "[gpu][matmul]") {
  Both b;
  const int64_t m = 33, n = 40, k = 64;
  auto x1 = random_floats(size_t(m * k), 31), x2 = random_floats(size_t(m * k), 32);
  auto w = random_floats(size_t(n * k), 33);
  auto gw = b.gpu.make_weight(w.data(), n, k);
  auto cw = b.cpu.make_weight(w.data(), n, k);
  require_ok(gw.status());
  require_ok(cw.status());
  Buffer gx = upload(b.gpu, x1);
  auto gy = b.gpu.alloc(sizeof(float) * size_t(m * n));
  require_ok(gy.status());
  std::vector<float> want(size_t(m * n));
  auto check = [&](const std::vector<float>& x, const char* what) {
    INFO(what);
    require_ok(b.cpu.matmul(x.data(), *cw.value(), nullptr, want.data(), m));
    const auto got = download<float>(b.gpu, gy->data(), want.size());
    std::vector<double> ref, mag;
    fused_reference(x, w, std::vector<float>(want.size(), 0.f), m, n, k, &ref, &mag);
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (!(std::fabs(got[i] - ref[i]) <= 1e-5 * mag[i] + 1e-6)) ++bad;
    CHECK(bad == 0);
  };
  require_ok(b.gpu.matmul(gx.as<float>(), *gw.value(), nullptr, gy->as<float>(), m));
  check(x1, "first GEMM");
  require_ok(b.gpu.matmul(gx.as<float>(), *gw.value(), nullptr, gy->as<float>(), m));
  check(x1, "same input again (reused conversion)");
  require_ok(b.gpu.copy_from_host(gx.data(), x2.data(), sizeof(float) * x2.size()));
  require_ok(b.gpu.matmul(gx.as<float>(), *gw.value(), nullptr, gy->as<float>(), m));
  check(x2, "after copy_from_host into the input");
  std::vector<float> x3 = x2;
  for (auto& v : x3) v += 1.f;
  Buffer ones = upload(b.gpu, std::vector<float>(x3.size(), 1.f));
  require_ok(b.gpu.add(gx.as<float>(), ones.as<float>(), int64_t(x3.size())));
  require_ok(b.gpu.matmul(gx.as<float>(), *gw.value(), nullptr, gy->as<float>(), m));
  check(x3, "after add into the input");
}

TEST_CASE("merge_partials", "[gpu][merge]") {
  Both b;
  const int64_t rows = GENERATE(1, 100, 1000);
  const int d = GENERATE(64, 80, 128);
  CAPTURE(rows, d);
  auto acc = random_floats(size_t(rows * d), 15), o = random_floats(size_t(rows * d), 16);
  auto acc_lse = random_floats(size_t(rows), 17, -5.f, 5.f), lse = random_floats(size_t(rows), 18, -5.f, 5.f);
  const float ninf = -std::numeric_limits<float>::infinity();
  // Every combination of dead sides, and a huge gap.
  for (int64_t r = 0; r < rows; ++r) {
    switch (r % 7) {
      case 1: acc_lse[size_t(r)] = ninf; break;
      case 2: lse[size_t(r)] = ninf; break;
      case 3: acc_lse[size_t(r)] = lse[size_t(r)] = ninf; break;
      case 4: lse[size_t(r)] = acc_lse[size_t(r)] + 80.f; break;
      default: break;
    }
  }
  Buffer ga = upload(b.gpu, acc), gal = upload(b.gpu, acc_lse), go = upload(b.gpu, o), gl = upload(b.gpu, lse);
  kernels::MergeParams gp{ga.as<float>(), gal.as<float>(), go.as<float>(), gl.as<float>(), rows, d};
  require_ok(b.gpu.merge_partials(gp));
  std::vector<float> want = acc, want_lse = acc_lse;
  kernels::MergeParams cp{want.data(), want_lse.data(), o.data(), lse.data(), rows, d};
  require_ok(b.cpu.merge_partials(cp));
  expect_close(download<float>(b.gpu, ga.data(), want.size()), want, {1e-6, 1e-5}, "merged out");
  expect_close(download<float>(b.gpu, gal.data(), want_lse.size()), want_lse, {1e-6, 1e-6}, "merged lse");
}

// A NaN LSE on a live side makes the row NaN, as on the CPU; a dead side
// (-inf) is not read, NaN or not.
TEST_CASE("merge_partials: NaN propagates", "[gpu][merge]") {
  Both b;
  const int d = 64;
  const float nan = std::nanf(""), ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> acc_lse = {nan, 1.f, nan, ninf}, lse = {1.f, nan, ninf, nan};
  const int64_t rows = int64_t(acc_lse.size());
  const auto acc = random_floats(size_t(rows * d), 19), o = random_floats(size_t(rows * d), 20);
  Buffer ga = upload(b.gpu, acc), gal = upload(b.gpu, acc_lse), go = upload(b.gpu, o), gl = upload(b.gpu, lse);
  kernels::MergeParams gp{ga.as<float>(), gal.as<float>(), go.as<float>(), gl.as<float>(), rows, d};
  require_ok(b.gpu.merge_partials(gp));
  const auto out = download<float>(b.gpu, ga.data(), acc.size());
  const auto out_lse = download<float>(b.gpu, gal.data(), size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    CAPTURE(r);
    CHECK(std::isnan(out_lse[size_t(r)]));
    // Row 2: the partial is dead, the accumulator is left as it was; row 3:
    // the accumulator is dead, the partial is copied in with its LSE.
    if (r == 2)
      CHECK(out[size_t(r * d)] == acc[size_t(r * d)]);
    else if (r == 3)
      CHECK(out[size_t(r * d)] == o[size_t(r * d)]);
    else
      CHECK(std::isnan(out[size_t(r * d)]));
  }
}

// The attention grid: shapes x (head dim, GQA) x masks x (random | q = 0).
// CUDA backend and CPU backend both against the float64 reference.
TEST_CASE("attention_partial", "[gpu][attention]") {
  Both b;
  const auto shape = GENERATE(std::pair<int64_t, int64_t>{1, 1}, std::pair<int64_t, int64_t>{1, 300},
                              std::pair<int64_t, int64_t>{5, 77}, std::pair<int64_t, int64_t>{63, 64},
                              std::pair<int64_t, int64_t>{64, 64}, std::pair<int64_t, int64_t>{65, 130},
                              std::pair<int64_t, int64_t>{128, 128}, std::pair<int64_t, int64_t>{129, 300},
                              std::pair<int64_t, int64_t>{300, 300}, std::pair<int64_t, int64_t>{300, 37},
                              std::pair<int64_t, int64_t>{200, 1});
  struct Heads {
    int d, hq, hkv;
  };
  const Heads heads = GENERATE(Heads{64, 4, 4}, Heads{128, 8, 2}, Heads{80, 6, 1}, Heads{128, 1, 1},
                               Heads{64, 6, 1});
  const Mask mask = GENERATE(Mask::kCausalSuffix, Mask::kCausalPadded, Mask::kNonCausal,
                             Mask::kShuffled, Mask::kFuture, Mask::kPast);
  const bool zero_q = GENERATE(false, true);
  AttnCase c;
  c.tq = shape.first;
  c.tk = shape.second;
  c.d = heads.d;
  c.hq = heads.hq;
  c.hkv = heads.hkv;
  c.mask = mask;
  c.zero_q = zero_q;
  c.seed = uint32_t(c.tq * 7919 + c.tk * 31 + c.d + c.hq * 3 + int(mask) * 101 + zero_q);
  CAPTURE(c.tq, c.tk, c.d, c.hq, c.hkv, mask_name(mask), zero_q);
  const AttnData a = make_attention_data(c);
  // The CUDA backend picks its path by shape and positions: cuDNN (bf16)
  // where it applies, tensor cores for d = 64 / 128 with >= 64 query rows,
  // the f32 path otherwise. The counters say which one ran.
  const CudaAttentionCounts before = cuda_backend_attention_counts(b.gpu);
  const AttnResult got = run_backend(b.gpu, c, a);
  const bool by_cudnn = cuda_backend_attention_counts(b.gpu).cudnn > before.cudnn;
  const bool f32_path = !by_cudnn && (!kernels::cuda::attention_mma_supports(c.d) || c.tq < 64);
  CAPTURE(by_cudnn);
  check_attention(got, a, attention_tol(c, f32_path), "cuda backend");
  check_attention(run_backend(b.cpu, c, without_nan(a)), a, attention_tol(c, true), "cpu backend");
}

}  // namespace
}  // namespace ringlm::test
