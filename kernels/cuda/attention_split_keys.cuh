// The keys one split of the f32 attention kernels walks (generic and
// grouped, attention_partial.cu / attention_grouped.cuh). Included by .cu
// files only.
#pragma once

#include "attention_params.h"
#include "cuda/common.cuh"

namespace ringlm::kernels::cuda::attn {

// Piece `pc` of key split `split`: an entry of the piece table (attention
// over several key blocks), or, without a table, the split's own range of
// p's keys (one block of p.tk keys cut into splits of keys_per_split; a
// range past the end has n <= 0). KT: the K/V element (float or bf16 bits).
template <typename KT>
__device__ __forceinline__ KeyBlock split_piece(const AttentionParams& p,
                                                const KeyBlock* __restrict__ pieces, int pc,
                                                int split, int64_t keys_per_split) {
  if (pieces) return pieces[pc];
  KeyBlock blk;
  const int64_t kb = int64_t(split) * keys_per_split;
  const int64_t kv_row = int64_t(p.hkv) * p.d;
  blk.k = static_cast<const KT*>(p.k) + kb * kv_row;
  blk.v = static_cast<const KT*>(p.v) + kb * kv_row;
  blk.pos = p.k_pos + kb;
  blk.n = min(p.tk, kb + keys_per_split) - kb;
  return blk;
}

}  // namespace ringlm::kernels::cuda::attn
