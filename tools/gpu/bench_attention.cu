// Attention forward (partial attention with LSE) on one CUDA device:
// causal, head dim 128 (or --d 64), q and kv sequences of T tokens at global
// positions 0..T-1, for hq = 32 with hkv = 8 (GQA) and hkv = 32, at
// T = 8K, 16K, 32K, 64K, 128K. Three timings per shape:
//   kernel   attention_partial_bf16 on bf16 inputs (ringlm's tensor-core
//            kernel and its tile pre-pass), comparable to torch SDPA in bf16;
//   cudnn    cuDNN's fused attention with stats on the same bf16 inputs
//            (backend/cuda/cudnn/cudnn_attention.h; where cuDNN loads);
//   backend  CudaBackend::attention_partial on f32 q and f32 K/V, including
//            the rounding of q, k and v to bf16 and of the output back to f32
//            (cuDNN where it loads, else the kernel; the line says which);
//   bf16-kv  the same with K/V from a bf16 KV cache (no K/V conversion).
// TFLOP/s counts causal attention as 4 * T^2 * hq * d / 2 FLOPs.
// Then decode (one query row against T keys) through the backend, in GB/s of
// K and V read, from f32 and from bf16 K/V, and with the grouped kernel
// (AttentionPath::kGrouped) on the bf16 K/V.
//
// usage: bench_attention [--sizes 8192,16384,...] [--d 128] [--budget-s 240]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#if RINGLM_HAVE_CUDNN
#include "backend/cuda/cudnn/cudnn_attention.h"
#endif
#include "cuda/attention_partial.h"
#include "cuda/convert.h"

namespace {

using ringlm::Backend;
using ringlm::Buffer;
namespace kc = ringlm::kernels::cuda;

__global__ void init_uniform(float* x, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ (uint32_t(i >> 32) + seed) * 2246822519u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    x[i] = float(h) * (2.f / 4294967296.f) - 1.f;  // [-1, 1)
  }
}

__global__ void init_iota(int32_t* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = int32_t(i);
}

#define CHECK_CUDA(expr)                                                                \
  do {                                                                                  \
    cudaError_t e_ = (expr);                                                            \
    if (e_ != cudaSuccess) {                                                            \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

#define CHECK_OK(expr)                                                                  \
  do {                                                                                  \
    ringlm::Status s_ = (expr);                                                         \
    if (!s_.ok()) {                                                                     \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, s_.ToString().c_str());    \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

Buffer alloc(Backend& b, size_t bytes) {
  auto r = b.alloc(bytes);
  CHECK_OK(r.status());
  return std::move(r).value();
}

// Mean milliseconds per call of `fn` on `stream`: one warm-up call, then as
// many timed calls as fit in ~1.5 s (1 to 20).
template <typename Fn>
double time_ms(cudaStream_t stream, Fn&& fn) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  CHECK_CUDA(cudaEventRecord(a, stream));
  fn();
  CHECK_CUDA(cudaEventRecord(b, stream));
  CHECK_CUDA(cudaEventSynchronize(b));
  float warm = 0.f;
  CHECK_CUDA(cudaEventElapsedTime(&warm, a, b));
  const int reps = std::clamp(int(1500.f / std::max(warm, 1e-3f)), 1, 20);
  CHECK_CUDA(cudaEventRecord(a, stream));
  for (int i = 0; i < reps; ++i) fn();
  CHECK_CUDA(cudaEventRecord(b, stream));
  CHECK_CUDA(cudaEventSynchronize(b));
  float total = 0.f;
  CHECK_CUDA(cudaEventElapsedTime(&total, a, b));
  CHECK_CUDA(cudaEventDestroy(a));
  CHECK_CUDA(cudaEventDestroy(b));
  return double(total) / reps;
}

unsigned blocks_for(int64_t n) { return unsigned(std::min<int64_t>((n + 255) / 256, 65535LL * 8)); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {8192, 16384, 32768, 65536, 131072};
  int d = 128;
  double budget_s = 240;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sizes")) {
      sizes.clear();
      for (char* t = std::strtok(argv[i + 1], ","); t; t = std::strtok(nullptr, ",")) sizes.push_back(std::atoll(t));
    } else if (!std::strcmp(argv[i], "--d")) {
      d = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--budget-s")) {
      budget_s = std::atof(argv[i + 1]);
    }
  }
  if (ringlm::cuda_device_count() == 0) {
    std::printf("bench_attention: no CUDA device\n");
    return 0;
  }
  auto rb = ringlm::make_cuda_backend(0);
  CHECK_OK(rb.status());
  Backend& be = *rb.value();
  auto stream = static_cast<cudaStream_t>(ringlm::cuda_backend_stream(be));
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, sm_%d%d, %.1f GiB\n", prop.name, prop.multiProcessorCount,
              prop.major, prop.minor, double(prop.totalGlobalMem) / (1 << 30));
#if RINGLM_HAVE_CUDNN
  std::unique_ptr<ringlm::CudnnAttention> cudnn;
  if (auto made = ringlm::CudnnAttention::Create(stream); made.ok()) {
    cudnn = std::move(made).value();
    std::printf("cuDNN %lld loaded\n", (long long)ringlm::cudnn_loaded_version());
  } else {
    std::printf("cuDNN: %s\n", made.status().ToString().c_str());
  }
#endif
  const auto t_start = std::chrono::steady_clock::now();
  auto elapsed_s = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  };

  struct Heads {
    int hq, hkv;
  };
  for (const Heads hc : {Heads{32, 8}, Heads{32, 32}}) {
    double last_cost_s = 0;  // wall time of the previous size
    for (const int64_t T : sizes) {
      // The next size costs about 4x the last (quadratic); skip what would not fit.
      if (last_cost_s * 4.5 > budget_s - elapsed_s()) {
        std::printf("prefill causal d=%d hq=%d hkv=%d T=%lld: skipped (time budget)\n", d, hc.hq,
                    hc.hkv, (long long)T);
        continue;
      }
      const double t0 = elapsed_s();
      const int64_t nq = T * hc.hq * d, nkv = T * hc.hkv * d;
      Buffer q = alloc(be, 4 * nq), k = alloc(be, 4 * nkv), v = alloc(be, 4 * nkv);
      Buffer out = alloc(be, 4 * nq), lse = alloc(be, 4 * T * hc.hq), pos = alloc(be, 4 * T);
      Buffer qb = alloc(be, 2 * nq), kb = alloc(be, 2 * nkv), vb = alloc(be, 2 * nkv);
      Buffer ws = alloc(be, kc::attention_bf16_workspace_bytes(T));
      init_uniform<<<blocks_for(nq), 256, 0, stream>>>(q.as<float>(), nq, 1);
      init_uniform<<<blocks_for(nkv), 256, 0, stream>>>(k.as<float>(), nkv, 2);
      init_uniform<<<blocks_for(nkv), 256, 0, stream>>>(v.as<float>(), nkv, 3);
      init_iota<<<blocks_for(T), 256, 0, stream>>>(pos.as<int32_t>(), T);
      CHECK_CUDA(kc::f32_to_bf16(q.as<float>(), qb.as<uint16_t>(), nq, stream));
      CHECK_CUDA(kc::f32_to_bf16(k.as<float>(), kb.as<uint16_t>(), nkv, stream));
      CHECK_CUDA(kc::f32_to_bf16(v.as<float>(), vb.as<uint16_t>(), nkv, stream));
      CHECK_CUDA(cudaStreamSynchronize(stream));

      kc::AttentionBf16Params bp;
      bp.q = qb.as<uint16_t>();
      bp.k = kb.as<uint16_t>();
      bp.v = vb.as<uint16_t>();
      bp.q_pos = bp.k_pos = pos.as<int32_t>();
      bp.out = out.as<float>();
      bp.lse = lse.as<float>();
      bp.tq = bp.tk = T;
      bp.hq = hc.hq;
      bp.hkv = hc.hkv;
      bp.d = d;
      bp.scale = 1.f / std::sqrt(float(d));
      bp.causal = true;
      const double ms_kernel =
          time_ms(stream, [&] { CHECK_CUDA(kc::attention_partial_bf16(bp, ws.data(), stream)); });

      ringlm::kernels::AttentionParams p;
      p.q = q.as<float>();
      p.k = k.as<float>();
      p.v = v.as<float>();
      p.q_pos = p.k_pos = pos.as<int32_t>();
      p.out = out.as<float>();
      p.lse = lse.as<float>();
      p.tq = p.tk = T;
      p.hq = hc.hq;
      p.hkv = hc.hkv;
      p.d = d;
      p.scale = bp.scale;
      p.causal = true;
      const auto before = ringlm::cuda_backend_attention_counts(be);
      const double ms_backend = time_ms(stream, [&] { CHECK_OK(be.attention_partial(p)); });
      CHECK_OK(be.synchronize());
      const bool backend_cudnn = ringlm::cuda_backend_attention_counts(be).cudnn > before.cudnn;
      ringlm::kernels::AttentionParams p16 = p;
      p16.k = kb.data();
      p16.v = vb.data();
      p16.kv = ringlm::kernels::KvType::kBF16;
      const double ms_bf16kv = time_ms(stream, [&] { CHECK_OK(be.attention_partial(p16)); });
      CHECK_OK(be.synchronize());

      const double flops = 4.0 * double(T) * double(T) * hc.hq * d / 2.0;
      double ms_cudnn = 0;
#if RINGLM_HAVE_CUDNN
      if (cudnn) {
        ringlm::CudnnAttentionShape cs;
        cs.tq = cs.tk = T;
        cs.hq = hc.hq;
        cs.hkv = hc.hkv;
        cs.d = d;
        cs.scale = bp.scale;
        cs.mask = ringlm::CudnnMask::kCausalTopLeft;
        auto wsb = cudnn->prepare(cs);
        if (wsb.ok()) {
          Buffer cws = alloc(be, std::max<size_t>(*wsb, 256));
          Buffer ob = alloc(be, 2 * nq);
          ms_cudnn = time_ms(stream, [&] {
            CHECK_OK(cudnn->run(cs, qb.data(), kb.data(), vb.data(), ob.data(), lse.as<float>(),
                                cws.data()));
          });
        } else {
          std::printf("cudnn: %s\n", wsb.status().ToString().c_str());
        }
      }
#endif
      char cudnn_col[96] = "cudnn(bf16 in) n/a";
      if (ms_cudnn > 0)
        std::snprintf(cudnn_col, sizeof cudnn_col, "cudnn(bf16 in) %.3f ms %.1f TFLOP/s", ms_cudnn,
                      flops / ms_cudnn * 1e-9);
      std::printf(
          "prefill causal d=%d hq=%d hkv=%d T=%lld: kernel(bf16 in) %.3f ms %.1f TFLOP/s | %s | "
          "backend[%s](f32 in, incl. conversions) %.3f ms %.1f TFLOP/s | backend(bf16 KV) %.3f ms "
          "%.1f TFLOP/s\n",
          d, hc.hq, hc.hkv, (long long)T, ms_kernel, flops / ms_kernel * 1e-9, cudnn_col,
          backend_cudnn ? "cudnn" : "kernel", ms_backend, flops / ms_backend * 1e-9, ms_bf16kv,
          flops / ms_bf16kv * 1e-9);
      std::fflush(stdout);

      // Decode: the last position's query against all T keys.
      ringlm::kernels::AttentionParams dp = p;
      dp.q = q.as<float>() + (T - 1) * hc.hq * d;
      dp.q_pos = pos.as<int32_t>() + (T - 1);
      dp.tq = 1;
      const double ms_decode = time_ms(stream, [&] { CHECK_OK(be.attention_partial(dp)); });
      ringlm::kernels::AttentionParams dp16 = dp;
      dp16.k = kb.data();
      dp16.v = vb.data();
      dp16.kv = ringlm::kernels::KvType::kBF16;
      const double ms_decode16 = time_ms(stream, [&] { CHECK_OK(be.attention_partial(dp16)); });
      // The grouped f32 kernel (one K/V read per KV group) on the same bf16 cache.
      int sms = 0;
      CHECK_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
      const auto gplan =
          ringlm::kernels::cuda::plan_attention(dp16, sms, ringlm::kernels::cuda::AttentionPath::kGrouped);
      Buffer gws = alloc(be, std::max<size_t>(gplan.workspace_bytes, 256));
      const double ms_grouped = time_ms(stream, [&] {
        CHECK_CUDA(ringlm::kernels::cuda::attention_partial(dp16, gplan, gws.data(), stream));
      });
      std::printf(
          "decode d=%d hq=%d hkv=%d T=%lld: backend %.3f ms, %.0f GB/s of f32 K+V | bf16 KV "
          "%.3f ms, %.0f GB/s of bf16 K+V | grouped kernel, bf16 KV, %d splits: %.3f ms, "
          "%.0f GB/s\n",
          d, hc.hq, hc.hkv, (long long)T, ms_decode, 8.0 * nkv / ms_decode * 1e-6, ms_decode16,
          4.0 * nkv / ms_decode16 * 1e-6, gplan.splits, ms_grouped, 4.0 * nkv / ms_grouped * 1e-6);
      std::fflush(stdout);
      last_cost_s = elapsed_s() - t0;
    }
  }
  return 0;
}
