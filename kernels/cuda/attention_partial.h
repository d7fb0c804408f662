// Position-masked partial attention with LSE output on CUDA.
// Definition: kernels/attention_params.h. CPU reference: kernels/cpu/attention_partial.h.
//
// Two implementations, picked per call by plan_attention():
//  - kMma: FlashAttention-2 style. A CTA owns 128 query rows of one query head
//    (8 warps x 16 rows) and walks the visible 64-key tiles of its KV head:
//    S = Q K^T and O += P V on bf16 tensor cores (mma.sync m16n8k16, f32
//    accumulation), online softmax in f32 registers, K/V tiles streamed into
//    swizzled shared memory with cp.async. Inputs are converted to bf16 first
//    (padding rows zeroed). Head dims 64 and 128.
//  - kGeneric: f32 CUDA cores, one warp per (query row, head, key split), the
//    key range split across warps for few query rows (decode) and the splits
//    combined exactly by the LSE rule. Any head dim up to 256. Also the path
//    for short query blocks, where a 128-row tile would be mostly empty.
//  - kGrouped: the generic path with one warp per (query row, KV head, chunk
//    of up to 4 of its query heads, key split), taking keys 32 at a time (a
//    lane per key for the scores), so that each K and V row is read once for
//    the chunk rather than once per query head and a tile's rows load
//    together (kernels/cuda/attention_grouped.cuh). Chosen only when forced (the CUDA
//    backend forces it where it would run kGeneric when
//    RINGLM_CUDA_GROUPED_ATTENTION=1).
// All skip key tiles (or keys) that no row can see, using positions only.
// Outputs: out [tq, hq, d] f32, lse [tq, hq] f32 natural log; a row that sees
// no key gets out = 0 and lse = -inf.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "attention_params.h"

namespace ringlm::kernels::cuda {

enum class AttentionPath : uint8_t { kEmpty, kMma, kGeneric, kUnsupported, kGrouped };

struct AttentionPlan {
  AttentionPath path = AttentionPath::kUnsupported;
  int splits = 1;              // key splits (kGeneric, kGrouped)
  size_t workspace_bytes = 0;  // device scratch attention_partial() needs
};

// Heads dims the tensor-core path is built for.
bool attention_mma_supports(int d);

// Picks the path and sizes the workspace. `sm_count` is the device's
// multiprocessor count (for the decode split). `force` (kMma, kGeneric or kGrouped)
// overrides the choice where that path supports the shape; kUnsupported
// means no override. Shapes are expected to be validated by the caller
// (hq % hkv == 0, d > 0); an unsupported head dim gives kUnsupported.
AttentionPlan plan_attention(const AttentionParams& p, int sm_count,
                             AttentionPath force = AttentionPath::kUnsupported);

// Runs the plan. Every pointer in p is device memory; `workspace` has at least
// plan.workspace_bytes bytes (256-byte aligned) and must not be in use by
// other work on `stream`. Returns the launch status (cudaErrorInvalidValue for
// an unsupported plan).
cudaError_t attention_partial(const AttentionParams& p, const AttentionPlan& plan, void* workspace,
                              cudaStream_t stream);

// ---- several key blocks in one launch (paged KV caches, decode) ----
//
// p's queries over the union of `blocks` (host array of device-memory
// blocks), exactly as one call over their concatenation; p.k, p.v, p.k_pos
// and p.tk are ignored. Runs the generic f32 path (or the grouped one, see
// BlocksPlan::grouped): the keys are cut into
// about as many splits as plan_attention would use for the same total, a
// split may span several blocks, and the splits are combined by the LSE
// rule. Meant for few query rows (decode), any head dim up to 256.
struct BlocksPlan {
  int splits = 1;  // 0: unsupported head dim (above 256)
  // The split table: (block, key range) pieces in key order; split s walks
  // pieces [first[s], first[s + 1]).
  std::vector<KeyBlock> pieces;
  std::vector<int> first;      // [splits + 1]
  size_t workspace_bytes = 0;  // device scratch attention_partial_blocks() needs
  bool grouped = false;        // runs the kGrouped kernel
};

// Cuts the keys of `blocks` into the plan's split table; kUnsupported-style
// failure (splits = 0) for head dims above 256. The plan keeps the blocks'
// device pointers, not the host array. `grouped`: the kGrouped kernel (its
// split count sized for its fewer warps).
BlocksPlan plan_attention_blocks(const AttentionParams& p, const KeyBlock* blocks, int nblocks,
                                 int sm_count, bool grouped = false);

// Copies the plan's split table to `workspace` (a pageable host-to-device
// copy on `stream`, so the plan may be freed on return) and launches.
cudaError_t attention_partial_blocks(const AttentionParams& p, const BlocksPlan& plan,
                                     void* workspace, cudaStream_t stream);

// ---- the bf16 tensor-core kernel on its own (benchmarks, bf16 KV caches) ----

struct AttentionBf16Params {
  const uint16_t* q = nullptr;     // [tq, hq, d] bf16, 16-byte aligned
  const int32_t* q_pos = nullptr;  // [tq]; < 0 marks a padding row
  const uint16_t* k = nullptr;     // [tk, hkv, d] bf16; rows with k_pos < 0 must be finite
  const uint16_t* v = nullptr;     // [tk, hkv, d] bf16; likewise
  const int32_t* k_pos = nullptr;  // [tk]; < 0 marks a padding key
  float* out = nullptr;            // [tq, hq, d] f32
  float* lse = nullptr;            // [tq, hq] f32
  int64_t tq = 0;
  int64_t tk = 0;
  int hq = 0;
  int hkv = 0;
  int d = 0;  // 64 or 128
  float scale = 0.f;
  bool causal = true;
};

// Workspace of attention_partial_bf16: per-tile key position ranges and a
// padded copy of k_pos.
size_t attention_bf16_workspace_bytes(int64_t tk);

cudaError_t attention_partial_bf16(const AttentionBf16Params& p, void* workspace,
                                   cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
