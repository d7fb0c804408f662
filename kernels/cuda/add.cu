#include "cuda/add.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

__global__ void add_bias_rows_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                     int64_t total, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % n];
}

}  // namespace

cudaError_t add(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  add_kernel<<<grid_for(n, 256), 256, 0, stream>>>(y, x, n);
  return cudaGetLastError();
}

cudaError_t add_bias_rows(float* y, const float* bias, int64_t m, int64_t n, cudaStream_t stream) {
  if (m <= 0 || n <= 0) return cudaSuccess;
  add_bias_rows_kernel<<<grid_for(m * n, 256), 256, 0, stream>>>(y, bias, m * n, n);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
