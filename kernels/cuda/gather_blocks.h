// Gathers key blocks (a paged KV cache's pages) into contiguous arrays in one
// launch: block b's rows land after the rows of blocks 0..b-1.
// CPU reference: one memcpy per block and array (PagedKvStore::gather's loop).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "attention_params.h"

namespace ringlm::kernels::cuda {

// Device scratch gather_blocks() needs for `nblocks` blocks (its table).
size_t gather_blocks_workspace_bytes(int nblocks);

// k, v ([sum n] rows of row_bytes bytes, any KV element type; row_bytes
// even) and pos [sum n] from blocks[0..nblocks) (host array of device
// pointers; copied to `workspace` by a pageable host-to-device copy, so it
// may be freed on return). 16 bytes at a time when rows and pointers allow.
cudaError_t gather_blocks(const KeyBlock* blocks, int nblocks, int64_t row_bytes, void* k, void* v,
                          int32_t* pos, void* workspace, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
