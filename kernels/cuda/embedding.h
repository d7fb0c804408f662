// Embedding lookup from a bf16 table. CPU reference: kernels/cpu/embedding.h
// (same definition on an f32 table).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

// out[i, :] = f32(table[ids[i], :])   table: [vocab, dim] bf16 bits; ids: [n]
// device memory, validated by the caller (0 <= id < vocab); out: [n, dim] f32.
cudaError_t embedding_bf16(const uint16_t* table, const int32_t* ids, float* out, int64_t n,
                           int64_t dim, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
