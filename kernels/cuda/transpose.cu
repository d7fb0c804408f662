#include "cuda/transpose.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

constexpr int kTile = 32;

// One 32x32 tile per block of 32x8 threads, staged in shared memory (one
// padding column against bank conflicts) so reads and writes are coalesced.
// Tile rows are walked by a grid-stride loop in y (the grid's y limit).
__global__ void transpose_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows,
                                 int64_t cols) {
  __shared__ float tile[kTile][kTile + 1];
  const int64_t c0 = int64_t(blockIdx.x) * kTile;
  for (int64_t r0 = int64_t(blockIdx.y) * kTile; r0 < rows; r0 += int64_t(gridDim.y) * kTile) {
    for (int i = threadIdx.y; i < kTile; i += blockDim.y) {
      const int64_t r = r0 + i, c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[i][threadIdx.x] = x[r * cols + c];
    }
    __syncthreads();
    for (int i = threadIdx.y; i < kTile; i += blockDim.y) {
      const int64_t c = c0 + i, r = r0 + threadIdx.x;
      if (r < rows && c < cols) y[c * rows + r] = tile[threadIdx.x][i];
    }
    __syncthreads();
  }
}

}  // namespace

cudaError_t transpose_f32(const float* x, float* y, int64_t rows, int64_t cols,
                          cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  const int64_t bx = ceil_div(cols, kTile), by = ceil_div(rows, kTile);
  if (bx > 0x7fffffffLL) return cudaErrorInvalidValue;
  const dim3 grid(unsigned(bx), unsigned(by < 65535 ? by : 65535));
  transpose_kernel<<<grid, dim3(kTile, 8), 0, stream>>>(x, y, rows, cols);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
