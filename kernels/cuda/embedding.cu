#include "cuda/embedding.h"

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

// One block per token row (grid-strided over rows); threads stride the row.
__global__ void embedding_bf16_kernel(const uint16_t* __restrict__ table,
                                      const int32_t* __restrict__ ids, float* __restrict__ out,
                                      int64_t n, int64_t dim) {
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const uint16_t* src = table + int64_t(ids[r]) * dim;  // [dim]
    float* dst = out + r * dim;                           // [dim]
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = bf16_bits_to_f32(src[i]);
  }
}

}  // namespace

cudaError_t embedding_bf16(const uint16_t* table, const int32_t* ids, float* out, int64_t n,
                           int64_t dim, cudaStream_t stream) {
  if (n <= 0 || dim <= 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>(n < 65535 * 8 ? n : 65535 * 8);
  embedding_bf16_kernel<<<blocks, 256, 0, stream>>>(table, ids, out, n, dim);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
