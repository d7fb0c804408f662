#include "cuda/sampling.h"

#include <math_constants.h>

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

constexpr int kThreads = 512;

// (value, index) pair ordering for argmax: larger value wins, then smaller index.
__device__ __forceinline__ bool better(float v, int64_t i, float bv, int64_t bi) {
  return v > bv || (v == bv && i < bi && i >= 0);
}

__global__ void argmax_kernel(const float* __restrict__ logits, int32_t* __restrict__ out,
                              int64_t n) {
  __shared__ float s_val[32];
  __shared__ int64_t s_idx[32];
  const float* row = logits + blockIdx.x * n;  // [n]
  float bv = -CUDART_INF_F;
  int64_t bi = -1;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = row[j];
    if (v != v) continue;  // NaN
    if (bi < 0 || better(v, j, bv, bi)) bv = v, bi = j;
  }
  // Warp then block reduction of (value, index).
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, bv, o);
    const int64_t oi = __shfl_xor_sync(kFullMask, bi, o);
    if (oi >= 0 && (bi < 0 || better(ov, oi, bv, bi))) bv = ov, bi = oi;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) s_val[warp] = bv, s_idx[warp] = bi;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x >> 5;
    bv = lane < warps ? s_val[lane] : -CUDART_INF_F;
    bi = lane < warps ? s_idx[lane] : -1;
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(kFullMask, bv, o);
      const int64_t oi = __shfl_xor_sync(kFullMask, bi, o);
      if (oi >= 0 && (bi < 0 || better(ov, oi, bv, bi))) bv = ov, bi = oi;
    }
    if (lane == 0) out[blockIdx.x] = static_cast<int32_t>(bi);
  }
}

__global__ void softmax_kernel(const float* x, float* y, int64_t n, float inv_t) {
  __shared__ float scratch[32];
  const float* xr = x + blockIdx.x * n;  // [n]
  float* yr = y + blockIdx.x * n;        // [n]
  float m = -CUDART_INF_F;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, xr[j] * inv_t);
  m = warp_max(m);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = m;
  __syncthreads();
  m = lane < int(blockDim.x >> 5) ? scratch[lane] : -CUDART_INF_F;
  m = warp_max(m);
  if (m == -CUDART_INF_F) m = 0.f;  // all -inf: exp gives 0s, sum 0 -> NaN row, as the math says
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += expf(xr[j] * inv_t - m);
  s = block_sum(s, scratch);
  const float inv_s = 1.f / s;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) yr[j] = expf(xr[j] * inv_t - m) * inv_s;
}

}  // namespace

cudaError_t argmax(const float* logits, int32_t* out, int64_t rows, int64_t n,
                   cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (rows > 0x7fffffffLL) return cudaErrorInvalidValue;
  argmax_kernel<<<unsigned(rows), kThreads, 0, stream>>>(logits, out, n);
  return cudaGetLastError();
}

cudaError_t softmax(const float* x, float* y, int64_t rows, int64_t n, float temperature,
                    cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  if (!(temperature > 0.f) || rows > 0x7fffffffLL) return cudaErrorInvalidValue;
  softmax_kernel<<<unsigned(rows), kThreads, 0, stream>>>(x, y, n, 1.f / temperature);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
