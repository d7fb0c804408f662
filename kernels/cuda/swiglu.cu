#include "cuda/swiglu.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

__global__ void swiglu_kernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    out[i] = g / (1.f + expf(-g)) * up[i];
  }
}

__global__ void swiglu_bf16_kernel(const float* __restrict__ gate, const float* __restrict__ up,
                                   uint16_t* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    out[i] = f32_to_bf16_bits(g / (1.f + expf(-g)) * up[i]);
  }
}

}  // namespace

cudaError_t swiglu_bf16(const float* gate, const float* up, uint16_t* out, int64_t n,
                        cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  swiglu_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(gate, up, out, n);
  return cudaGetLastError();
}

cudaError_t swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  swiglu_kernel<<<grid_for(n, 256), 256, 0, stream>>>(gate, up, out, n);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
