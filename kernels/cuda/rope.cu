#include "cuda/rope.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

// One thread per (row, head, pair). As in the CPU reference, the angle
// pos * inv_freq is formed in double and reduced to [-pi, pi] there (an f32
// product is off by ~0.03 rad at pos = 10^6), then sin/cos run in f32.
__global__ void rope_kernel(float* __restrict__ x, const int32_t* __restrict__ pos,
                            const float* __restrict__ inv_freq, int64_t rows, int heads,
                            int head_dim, int half, bool neox) {
  const int64_t total = rows * heads * half;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int i = int(t % half);
    const int64_t rh = t / half;          // row * heads + head
    const int64_t row = rh / heads;
    float* xv = x + rh * head_dim;        // [head_dim]
    const double a = remainder(double(pos[row]) * double(inv_freq[i]), 6.283185307179586);
    float sf, cf;
    sincosf(float(a), &sf, &cf);
    const int i0 = neox ? i : 2 * i;
    const int i1 = neox ? i + half : 2 * i + 1;
    const float x0 = xv[i0], x1 = xv[i1];
    xv[i0] = x0 * cf - x1 * sf;
    xv[i1] = x0 * sf + x1 * cf;
  }
}

}  // namespace

cudaError_t rope(float* x, const int32_t* pos, int64_t rows, int heads, const RopeConfig& cfg,
                 const float* inv_freq, cudaStream_t stream) {
  const int half = cfg.rot_dim / 2;
  if (rows <= 0 || heads <= 0 || half <= 0) return cudaSuccess;
  if (cfg.rot_dim > cfg.head_dim) return cudaErrorInvalidValue;
  const int64_t total = rows * heads * half;
  rope_kernel<<<grid_for(total, 256), 256, 0, stream>>>(x, pos, inv_freq, rows, heads,
                                                         cfg.head_dim, half, cfg.neox);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
