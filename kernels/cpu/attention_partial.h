// Position-masked partial attention with LSE output (CPU reference, OpenMP threaded).
#pragma once

#include <cstddef>

#include "attention_params.h"

namespace ringlm::kernels::cpu {

// See AttentionParams for the exact definition. Threads over (query row, head).
void attention_partial(const AttentionParams& p);

// p's queries over the union of `blocks` [nblocks] (p.k, p.v, p.k_pos, p.tk
// ignored), exactly as attention_partial over their concatenation: the
// blocks are cut into pieces of at most 1024 keys, the threads share
// (piece, query tile, KV head) items, and the pieces' states are combined by
// the LSE rule, in batches whose partial states stay under 64 MiB.
void attention_partial_blocks(const AttentionParams& p, const KeyBlock* blocks, size_t nblocks);

}  // namespace ringlm::kernels::cpu
