#include "cuda/rmsnorm.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

// One block per row: the sum of squares is reduced over the block, then every
// thread scales its strided share of the row. Rows are a few thousand floats,
// so the second pass re-reads x from L1/L2.
__global__ void rmsnorm_kernel(const float* x, const float* __restrict__ w, float* y, int64_t dim,
                               float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const float* xr = x + row * dim;  // [dim]
  float* yr = y + row * dim;        // [dim]
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / float(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * inv * w[i];
}

}  // namespace

cudaError_t rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps,
                    cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return cudaSuccess;
  if (rows > 0x7fffffffLL) return cudaErrorInvalidValue;
  const int threads = dim >= 1024 ? 512 : (dim >= 256 ? 256 : 128);
  rmsnorm_kernel<<<unsigned(rows), threads, 0, stream>>>(x, w, y, dim, eps);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
