// Declarations shared by the attention dispatch (attention_partial.cu) and the
// per-head-dim instantiations of the tensor-core kernel (attention_mma.cuh).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/attention_partial.h"

namespace ringlm::kernels::cuda::attn {

constexpr int kBr = 128;       // query rows per CTA
constexpr int kBc = 64;        // keys per tile
constexpr int kWarps = 8;      // 16 query rows each
constexpr int kThreads = kWarps * 32;
constexpr int kListCap = kThreads;  // tiles classified per list build (one per thread)
constexpr int kFullBit = 1 << 30;   // list entry flag: tile needs no mask (indices < 2^30)

// Tile metadata written by the pre-pass: x = min valid k_pos, y = max valid
// k_pos, z = flags (bit 0: some key valid, bit 1: all 64 keys valid).
using TileMeta = int4;

// Launches the kernel for head dim D (64 or 128), instantiated in
// attention_partial_hdim<D>.cu. meta / kpad come from the pre-pass.
template <int D>
cudaError_t launch_mma(const AttentionBf16Params& p, const TileMeta* meta, const int32_t* kpad,
                       int ntiles, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda::attn
