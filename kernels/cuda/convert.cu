#include "cuda/convert.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

__global__ void f32_to_bf16_kernel(const float* __restrict__ x, uint16_t* __restrict__ y,
                                   int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = f32_to_bf16_bits(x[i]);
}

__global__ void bf16_to_f32_kernel(const uint16_t* __restrict__ x, float* __restrict__ y,
                                   int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = bf16_bits_to_f32(x[i]);
}

// Four elements per thread: x as float4, y as two packed bf16x2 words.
__global__ void f32_to_bf16_masked_rows_kernel(const float4* __restrict__ x,
                                               const int32_t* __restrict__ pos,
                                               uint2* __restrict__ y, int64_t rows,
                                               int64_t quads_per_row) {
  const int64_t n = rows * quads_per_row;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / quads_per_row;
    uint2 o = make_uint2(0u, 0u);
    if (pos[r] >= 0) {
      const float4 v = x[i];
      o.x = pack_bf16x2(v.x, v.y);
      o.y = pack_bf16x2(v.z, v.w);
    }
    y[i] = o;
  }
}

// Any alignment: one element per thread.
__global__ void f32_to_bf16_masked_rows_scalar_kernel(const float* __restrict__ x,
                                                      const int32_t* __restrict__ pos,
                                                      uint16_t* __restrict__ y, int64_t rows,
                                                      int64_t row_elems) {
  const int64_t n = rows * row_elems;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = pos[i / row_elems] >= 0 ? f32_to_bf16_bits(x[i]) : uint16_t(0);
}

// bf16 -> bf16 with padding rows zeroed; W is the unit copied (uint4: eight
// elements, uint16_t: one).
template <typename W>
__global__ void bf16_masked_rows_kernel(const W* __restrict__ x, const int32_t* __restrict__ pos,
                                        W* __restrict__ y, int64_t rows, int64_t units_per_row) {
  const int64_t n = rows * units_per_row;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = pos[i / units_per_row] >= 0 ? x[i] : W{};
}

}  // namespace

cudaError_t f32_to_bf16(const float* x, uint16_t* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  f32_to_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t bf16_to_f32(const uint16_t* x, float* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  bf16_to_f32_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t f32_to_bf16_masked_rows(const float* x, const int32_t* pos, uint16_t* y, int64_t rows,
                                    int64_t row_elems, cudaStream_t stream) {
  if (rows <= 0 || row_elems <= 0) return cudaSuccess;
  if (row_elems % 4 != 0 || reinterpret_cast<uintptr_t>(x) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(y) % 8 != 0) {
    f32_to_bf16_masked_rows_scalar_kernel<<<grid_for(rows * row_elems, 256), 256, 0, stream>>>(
        x, pos, y, rows, row_elems);
    return cudaGetLastError();
  }
  const int64_t quads = row_elems / 4;
  f32_to_bf16_masked_rows_kernel<<<grid_for(rows * quads, 256), 256, 0, stream>>>(
      reinterpret_cast<const float4*>(x), pos, reinterpret_cast<uint2*>(y), rows, quads);
  return cudaGetLastError();
}

cudaError_t bf16_masked_rows(const uint16_t* x, const int32_t* pos, uint16_t* y, int64_t rows,
                             int64_t row_elems, cudaStream_t stream) {
  if (rows <= 0 || row_elems <= 0) return cudaSuccess;
  if (row_elems % 8 != 0 || reinterpret_cast<uintptr_t>(x) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(y) % 16 != 0) {
    bf16_masked_rows_kernel<uint16_t><<<grid_for(rows * row_elems, 256), 256, 0, stream>>>(
        x, pos, y, rows, row_elems);
    return cudaGetLastError();
  }
  const int64_t units = row_elems / 8;
  bf16_masked_rows_kernel<uint4><<<grid_for(rows * units, 256), 256, 0, stream>>>(
      reinterpret_cast<const uint4*>(x), pos, reinterpret_cast<uint4*>(y), rows, units);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
