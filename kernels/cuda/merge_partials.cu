#include "cuda/merge_partials.h"

#include <math_constants.h>

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;

// One warp per row of d values; lanes stride the row.
//   t = exp(-|a - b|), L = log(exp(a) + exp(b)) = max(a, b) + log1p(t)
//   acc_out = acc_out * exp(a - L) + out * exp(b - L)
// with the weights exp(a - L), exp(b - L) taken as 1 / (1 + t) for the larger
// side and t / (1 + t) for the other: equal in exact arithmetic, and free of
// the float rounding of a large L that a - L would carry (the CPU reference
// computes them in double for the same reason). A NaN LSE makes t, L and both
// weights NaN.
// A side whose LSE is -inf contributes nothing (its values are never read, so
// an accumulator that was never written may hold anything); both -inf gives
// out = 0, lse = -inf.
__global__ void merge_partials_kernel(float* __restrict__ acc_out, float* __restrict__ acc_lse,
                                      const float* __restrict__ out,
                                      const float* __restrict__ lse, int64_t rows, int d) {
  const int lane = threadIdx.x & 31;
  const int64_t row = blockIdx.x * int64_t(kWarpsPerBlock) + (threadIdx.x >> 5);
  if (row >= rows) return;
  const float a = acc_lse[row], b = lse[row];
  float* ao = acc_out + row * d;     // [d]
  const float* bo = out + row * d;   // [d]
  const bool a_live = a != -CUDART_INF_F, b_live = b != -CUDART_INF_F;
  if (!b_live) {
    if (!a_live)
      for (int i = lane; i < d; i += 32) ao[i] = 0.f;
    return;  // nothing to add; acc unchanged
  }
  if (!a_live) {
    for (int i = lane; i < d; i += 32) ao[i] = bo[i];
    if (lane == 0) acc_lse[row] = b;
    return;
  }
  const float t = expf(-fabsf(a - b));
  const float L = fmaxf(a, b) + log1pf(t);
  const float hi = 1.f / (1.f + t), lo = t * hi;
  const bool a_larger = a >= b;
  const float wa = a_larger ? hi : lo, wb = a_larger ? lo : hi;
  for (int i = lane; i < d; i += 32) ao[i] = ao[i] * wa + bo[i] * wb;
  if (lane == 0) acc_lse[row] = L;
}

}  // namespace

cudaError_t merge_partials(const MergeParams& p, cudaStream_t stream) {
  if (p.rows <= 0 || p.d <= 0) return cudaSuccess;
  const int64_t blocks = ceil_div(p.rows, kWarpsPerBlock);
  if (blocks > 0x7fffffffLL) return cudaErrorInvalidValue;
  merge_partials_kernel<<<unsigned(blocks), kWarpsPerBlock * 32, 0, stream>>>(
      p.acc_out, p.acc_lse, p.out, p.lse, p.rows, p.d);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
