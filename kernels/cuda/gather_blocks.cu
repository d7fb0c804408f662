#include "cuda/gather_blocks.h"

#include <vector>

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

struct GatherItem {
  KeyBlock src;
  int64_t dst_row;  // first destination row
};

// blockIdx.y walks the blocks (grid-stride); x threads copy the block's
// rows * row_floats floats of K and of V (float4 when `vec`), and its positions.
template <bool kVec>
__global__ void gather_blocks_kernel(const GatherItem* __restrict__ items, int nblocks,
                                     int64_t row_floats, float* __restrict__ k,
                                     float* __restrict__ v, int32_t* __restrict__ pos) {
  for (int b = blockIdx.y; b < nblocks; b += gridDim.y) {
    const GatherItem it = items[b];
    const int64_t n = it.src.n * row_floats;
    float* kd = k + it.dst_row * row_floats;
    float* vd = v + it.dst_row * row_floats;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (kVec) {
      const auto* ks = reinterpret_cast<const float4*>(it.src.k);
      const auto* vs = reinterpret_cast<const float4*>(it.src.v);
      auto* kd4 = reinterpret_cast<float4*>(kd);
      auto* vd4 = reinterpret_cast<float4*>(vd);
      for (int64_t i = first; i < n / 4; i += stride) {
        kd4[i] = ks[i];
        vd4[i] = vs[i];
      }
    } else {
      for (int64_t i = first; i < n; i += stride) {
        kd[i] = it.src.k[i];
        vd[i] = it.src.v[i];
      }
    }
    for (int64_t i = first; i < it.src.n; i += stride) pos[it.dst_row + i] = it.src.pos[i];
  }
}

}  // namespace

size_t gather_blocks_workspace_bytes(int nblocks) {
  return align256(sizeof(GatherItem) * size_t(nblocks > 0 ? nblocks : 1));
}

cudaError_t gather_blocks(const KeyBlock* blocks, int nblocks, int64_t row_floats, float* k,
                          float* v, int32_t* pos, void* workspace, cudaStream_t stream) {
  if (nblocks <= 0) return cudaSuccess;
  if (row_floats <= 0) return cudaErrorInvalidValue;
  std::vector<GatherItem> items(static_cast<size_t>(nblocks));
  int64_t row = 0, max_n = 0;
  bool vec = row_floats % 4 == 0 && reinterpret_cast<uintptr_t>(k) % 16 == 0 &&
             reinterpret_cast<uintptr_t>(v) % 16 == 0;
  for (int b = 0; b < nblocks; ++b) {
    items[size_t(b)] = GatherItem{blocks[b], row};
    vec = vec && reinterpret_cast<uintptr_t>(blocks[b].k) % 16 == 0 &&
          reinterpret_cast<uintptr_t>(blocks[b].v) % 16 == 0;
    row += blocks[b].n;
    max_n = blocks[b].n > max_n ? blocks[b].n : max_n;
  }
  auto* table = static_cast<GatherItem*>(workspace);
  // Pageable source: staged before cudaMemcpyAsync returns.
  cudaError_t e = cudaMemcpyAsync(table, items.data(), sizeof(GatherItem) * items.size(),
                                  cudaMemcpyHostToDevice, stream);
  if (e != cudaSuccess) return e;
  const int threads = 256;
  const int64_t per_block = vec ? max_n * row_floats / 4 : max_n * row_floats;
  const unsigned gx = unsigned(std::min<int64_t>(std::max<int64_t>(ceil_div(per_block, threads), 1), 64));
  const dim3 grid(gx, unsigned(nblocks < 65535 ? nblocks : 65535));
  if (vec)
    gather_blocks_kernel<true><<<grid, threads, 0, stream>>>(table, nblocks, row_floats, k, v, pos);
  else
    gather_blocks_kernel<false><<<grid, threads, 0, stream>>>(table, nblocks, row_floats, k, v, pos);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
