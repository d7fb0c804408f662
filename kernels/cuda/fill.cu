#include "cuda/fill.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

__global__ void fill_kernel(float* y, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = value;
}

}  // namespace

cudaError_t fill(float* y, float value, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  fill_kernel<<<grid_for(n, 256), 256, 0, stream>>>(y, value, n);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
