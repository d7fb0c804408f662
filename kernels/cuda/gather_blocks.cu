#include "cuda/gather_blocks.h"

#include <vector>

#include "cuda/common.cuh"

namespace ringlm::kernels::cuda {
namespace {

struct GatherItem {
  KeyBlock src;
  int64_t dst_row;  // first destination row
};

// blockIdx.y walks the blocks (grid-stride); x threads copy the block's rows
// of K and of V in units of W (uint4: 16 bytes, uint16_t: 2 bytes; a row is
// units_per_row of them), and its positions.
template <typename W>
__global__ void gather_blocks_kernel(const GatherItem* __restrict__ items, int nblocks,
                                     int64_t units_per_row, W* __restrict__ k, W* __restrict__ v,
                                     int32_t* __restrict__ pos) {
  for (int b = blockIdx.y; b < nblocks; b += gridDim.y) {
    const GatherItem it = items[b];
    const int64_t n = it.src.n * units_per_row;
    const auto* ks = static_cast<const W*>(it.src.k);
    const auto* vs = static_cast<const W*>(it.src.v);
    W* kd = k + it.dst_row * units_per_row;
    W* vd = v + it.dst_row * units_per_row;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    for (int64_t i = first; i < n; i += stride) {
      kd[i] = ks[i];
      vd[i] = vs[i];
    }
    for (int64_t i = first; i < it.src.n; i += stride) pos[it.dst_row + i] = it.src.pos[i];
  }
}

}  // namespace

size_t gather_blocks_workspace_bytes(int nblocks) {
  return align256(sizeof(GatherItem) * size_t(nblocks > 0 ? nblocks : 1));
}

cudaError_t gather_blocks(const KeyBlock* blocks, int nblocks, int64_t row_bytes, void* k, void* v,
                          int32_t* pos, void* workspace, cudaStream_t stream) {
  if (nblocks <= 0) return cudaSuccess;
  if (row_bytes <= 0 || row_bytes % 2 != 0) return cudaErrorInvalidValue;
  std::vector<GatherItem> items(static_cast<size_t>(nblocks));
  int64_t row = 0, max_n = 0;
  bool vec = row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(k) % 16 == 0 &&
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
  const int64_t units = vec ? row_bytes / 16 : row_bytes / 2;
  const int64_t per_block = max_n * units;
  const unsigned gx = unsigned(std::min<int64_t>(std::max<int64_t>(ceil_div(per_block, threads), 1), 64));
  const dim3 grid(gx, unsigned(nblocks < 65535 ? nblocks : 65535));
  if (vec)
    gather_blocks_kernel<uint4><<<grid, threads, 0, stream>>>(
        table, nblocks, units, static_cast<uint4*>(k), static_cast<uint4*>(v), pos);
  else
    gather_blocks_kernel<uint16_t><<<grid, threads, 0, stream>>>(
        table, nblocks, units, static_cast<uint16_t*>(k), static_cast<uint16_t*>(v), pos);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda
