// cuDNN fused attention inside the CUDA backend: the layouts it serves give
// the definition's results (float64 reference, bf16 tolerances) and are
// counted as cuDNN calls; the layouts it cannot express go to ringlm's kernel;
// options turn it off; plans are cached per shape; the statistics transpose.
// Exits 77 (skipped) on a GPU machine where libcudnn cannot be loaded.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>

#include "attention_cases.h"
#include "backend/cuda/cudnn/cudnn_attention.h"
#include "cuda/transpose.h"

namespace ringlm::test {
namespace {

void require_cudnn() {
  const Status st = cudnn_load();
  if (!st.ok()) {
    std::printf("SKIPPED: %s\n", st.ToString().c_str());
    std::fflush(stdout);
    std::exit(77);
  }
}

std::unique_ptr<Backend> fresh_backend(bool cudnn = true) {
  CudaBackendOptions o;
  o.cudnn_attention = cudnn;
  auto r = make_cuda_backend(0, o);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return std::move(r).value();
}

// Contiguous positions: queries q0.., keys k0.. (all valid).
AttnData contiguous_case(const AttnCase& c, int32_t q0, int32_t k0, bool causal) {
  AttnData a = make_attention_data(c);
  for (int64_t i = 0; i < c.tq; ++i) a.q_pos[size_t(i)] = q0 + int32_t(i);
  for (int64_t j = 0; j < c.tk; ++j) a.k_pos[size_t(j)] = k0 + int32_t(j);
  a.causal = causal;
  reference_attention(a.host_params(c), a.ref_out, a.ref_lse);
  return a;
}

struct Layout {
  const char* name;
  int64_t tq, tk;
  int32_t q0, k0;
  bool causal;
};

TEST_CASE("cuDNN serves contiguous layouts with the definition's results", "[gpu][cudnn]") {
  require_cudnn();
  const Layout l = GENERATE(Layout{"top-left, square", 64, 64, 0, 0, true},
                            Layout{"top-left, square, odd", 200, 200, 0, 0, true},
                            Layout{"top-left, keys beyond the last row", 100, 180, 7, 7, true},
                            Layout{"bottom-right (cache + chunk)", 128, 300, 172, 0, true},
                            Layout{"bottom-right, odd", 96, 161, 1065, 1000, true},
                            Layout{"all keys in the past", 64, 500, 9000, 0, true},
                            Layout{"non-causal", 130, 77, 0, 5000, false});
  const int d = GENERATE(64, 128);
  const auto heads = GENERATE(std::pair<int, int>{8, 2}, std::pair<int, int>{4, 4});
  const bool zero_q = GENERATE(false, true);
  const kernels::KvType kv = GENERATE(kernels::KvType::kF32, kernels::KvType::kBF16);
  AttnCase c;
  c.tq = l.tq;
  c.tk = l.tk;
  c.d = d;
  c.hq = heads.first;
  c.hkv = heads.second;
  c.zero_q = zero_q;
  c.seed = uint32_t(l.tq * 31 + l.tk + d + heads.first + zero_q);
  CAPTURE(l.name, c.tq, c.tk, c.d, c.hq, c.hkv, zero_q, kernels::kv_type_name(kv));
  const AttnData a = contiguous_case(c, l.q0, l.k0, l.causal);
  auto be = fresh_backend();
  const AttnResult r = run_backend(*be, c, a, kv);
  INFO("cudnn status: " << cuda_backend_cudnn_status(*be));
  const CudaAttentionCounts n = cuda_backend_attention_counts(*be);
  CHECK(n.cudnn == 1);
  CHECK(n.kernel == 0);
  check_attention(r, a, attention_tol(c, false), "cudnn");
}

TEST_CASE("layouts cuDNN cannot express go to the kernel", "[gpu][cudnn]") {
  require_cudnn();
  auto be = fresh_backend();
  struct Bad {
    const char* name;
    Mask mask;
    int64_t tq, tk;
  };
  const Bad b = GENERATE(Bad{"padding rows and keys", Mask::kCausalPadded, 128, 200},
                         Bad{"shuffled keys", Mask::kShuffled, 100, 100},
                         Bad{"nothing visible", Mask::kFuture, 80, 90},
                         Bad{"fewer than 64 rows", Mask::kCausalSuffix, 63, 500},
                         Bad{"more rows than keys (causal)", Mask::kCausalSuffix, 150, 100});
  AttnCase c;
  c.tq = b.tq;
  c.tk = b.tk;
  c.hq = 4;
  c.hkv = 2;
  c.d = 64;
  c.mask = b.mask;
  CAPTURE(b.name);
  const AttnData a = make_attention_data(c);
  const CudaAttentionCounts before = cuda_backend_attention_counts(*be);
  check_attention(run_backend(*be, c, a), a, attention_tol(c, false), b.name);
  const CudaAttentionCounts after = cuda_backend_attention_counts(*be);
  CHECK(after.cudnn == before.cudnn);
  CHECK(after.kernel == before.kernel + 1);
}

TEST_CASE("a causal offset between top-left and bottom-right goes to the kernel", "[gpu][cudnn]") {
  require_cudnn();
  auto be = fresh_backend();
  AttnCase c;
  c.tq = 100;
  c.tk = 150;
  c.hq = 4;
  c.hkv = 1;
  c.d = 128;
  // off = q0 - k0 = 20: rows see 21..120 keys, neither alignment.
  const AttnData a = contiguous_case(c, 20, 0, true);
  check_attention(run_backend(*be, c, a), a, attention_tol(c, false), "offset 20");
  CHECK(cuda_backend_attention_counts(*be).cudnn == 0);
  CHECK(cuda_backend_attention_counts(*be).kernel == 1);
}

TEST_CASE("options and the environment turn cuDNN attention off", "[gpu][cudnn]") {
  require_cudnn();
  AttnCase c;
  c.tq = c.tk = 128;
  c.hq = 4;
  c.hkv = 2;
  c.d = 64;
  const AttnData a = contiguous_case(c, 0, 0, true);
  auto off = fresh_backend(false);
  check_attention(run_backend(*off, c, a), a, attention_tol(c, false), "options off");
  CHECK(cuda_backend_attention_counts(*off).cudnn == 0);
  CHECK(cuda_backend_cudnn_status(*off).find("turned off") != std::string::npos);

  REQUIRE(setenv("RINGLM_CUDNN_ATTENTION", "0", 1) == 0);
  auto env_off = fresh_backend(true);
  REQUIRE(unsetenv("RINGLM_CUDNN_ATTENTION") == 0);
  check_attention(run_backend(*env_off, c, a), a, attention_tol(c, false), "env off");
  CHECK(cuda_backend_attention_counts(*env_off).cudnn == 0);
  CHECK(cuda_backend_cudnn_status(*env_off).find("RINGLM_CUDNN_ATTENTION") != std::string::npos);
}

TEST_CASE("a long causal block agrees with the tensor-core kernel", "[gpu][cudnn]") {
  require_cudnn();
  AttnCase c;
  c.tq = c.tk = 1024;
  c.hq = 16;
  c.hkv = 4;
  c.d = 128;
  c.seed = 99;
  const AttnData a = contiguous_case(c, 0, 0, true);
  auto be = fresh_backend();
  check_attention(run_backend(*be, c, a), a, attention_tol(c, false), "cudnn 1024");
  CHECK(cuda_backend_attention_counts(*be).cudnn == 1);
}

TEST_CASE("plans are built once per shape; bad shapes are refused", "[gpu][cudnn]") {
  require_cudnn();
  Backend& g = cuda_backend();
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(g));
  auto made = CudnnAttention::Create(stream);
  INFO(made.status().ToString());
  REQUIRE(made.ok());
  CudnnAttention& att = **made;
  CudnnAttentionShape s;
  s.tq = 128;
  s.tk = 256;
  s.hq = 8;
  s.hkv = 2;
  s.d = 64;
  s.scale = 0.125f;
  s.mask = CudnnMask::kCausalBottomRight;
  auto ws = att.prepare(s);
  INFO(ws.status().ToString());
  REQUIRE(ws.ok());
  REQUIRE(att.prepare(s).ok());
  CHECK(att.plans_built() == 1);
  s.tk = 512;
  REQUIRE(att.prepare(s).ok());
  CHECK(att.plans_built() == 2);

  CudnnAttentionShape odd = s;
  odd.d = 12;
  CHECK(att.prepare(odd).status().code() == StatusCode::kUnsupported);
  CudnnAttentionShape wide = s;
  wide.tq = 600;  // bottom-right with more rows than keys
  CHECK(att.prepare(wide).status().code() == StatusCode::kUnsupported);
  CudnnAttentionShape bad = s;
  bad.hq = 7;  // not a multiple of hkv
  CHECK(att.prepare(bad).status().code() == StatusCode::kInvalidArgument);
  bad = s;
  bad.scale = 0.f;
  CHECK(att.prepare(bad).status().code() == StatusCode::kInvalidArgument);
  CHECK(att.run(bad, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr).code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("transpose_f32 against the plain loop", "[gpu][cudnn]") {
  Backend& g = cuda_backend();
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(g));
  const auto shape = GENERATE(std::pair<int64_t, int64_t>{1, 1}, std::pair<int64_t, int64_t>{32, 17000},
                              std::pair<int64_t, int64_t>{33, 65}, std::pair<int64_t, int64_t>{9, 4096});
  const int64_t rows = shape.first, cols = shape.second;
  CAPTURE(rows, cols);
  std::vector<float> x(size_t(rows * cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.5f - 7.f;
  Buffer dx = upload(g, x);
  Buffer dy = upload(g, std::vector<float>(x.size(), std::nanf("")));
  REQUIRE(kernels::cuda::transpose_f32(dx.as<float>(), dy.as<float>(), rows, cols, stream) ==
          cudaSuccess);
  const std::vector<float> y = download<float>(g, dy.data(), x.size());
  std::vector<float> want(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) want[size_t(c * rows + r)] = x[size_t(r * cols + c)];
  expect_close(y, want, Tol{0, 0}, "transpose");
}

}  // namespace
}  // namespace ringlm::test
