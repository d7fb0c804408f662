// The grouped variant of the generic f32 attention path (AttentionPath::kGrouped).
//
// attention_generic_kernel runs one warp per (query row, query head, key
// split), so under grouped-query attention every K and V row is read once per
// query head: H_q / H_kv times per step (4 for Llama 3 8B). Decode reads the
// whole KV cache every token, so those reads are most of its time at long
// context. This kernel runs one warp per (query row, KV head, chunk of up to
// kGroupHeads of that KV head's query heads, key split): each visible key's K
// row is loaded once for the chunk's dot products, and its V row once for
// their accumulators. Per head it computes what the generic kernel computes
// (the same online softmax, masking, -inf and NaN rules), and it writes its
// results where the generic kernel does, so the split combine is shared.
//
// Included by attention_partial.cu only.
#pragma once

#include <math_constants.h>

#include <climits>

#include "attention_params.h"
#include "cuda/attention_split_keys.cuh"
#include "cuda/common.cuh"

namespace ringlm::kernels::cuda::attn {

constexpr int kGroupHeads = 4;    // query heads one warp carries
constexpr int kGroupedWarps = 4;  // warps per block

// Chunks of at most kGroupHeads query heads per KV head.
inline int group_chunks(int hq, int hkv) {
  const int group = hq / hkv;
  return (group + kGroupHeads - 1) / kGroupHeads;
}

// Warps of a launch: (row, KV head, chunk, split) items.
inline int64_t grouped_items(const AttentionParams& p, int splits) {
  return p.tq * p.hkv * group_chunks(p.hq, p.hkv) * int64_t(splits);
}

// Item order: ((row * hkv + kv head) * chunks + chunk) * splits + split. Lane
// c holds element c + 32 j of each query row. With one split the results go
// to p.out / p.lse; with several, head h of row r writes partial
// (r * hq + h) * splits + split of part_out / part_lse. With a piece table,
// split s walks pieces[split_first[s] .. split_first[s + 1]).
template <int NJ, typename KT>  // d <= 32 * NJ; KT: K/V element (float or bf16 bits)
__global__ void __launch_bounds__(kGroupedWarps * 32)
    attention_grouped_kernel(const AttentionParams p, int splits, int64_t keys_per_split,
                             const KeyBlock* __restrict__ pieces,
                             const int* __restrict__ split_first, float* __restrict__ part_out,
                             float* __restrict__ part_lse) {
  constexpr int G = kGroupHeads;
  const int lane = threadIdx.x & 31;
  const int group = p.hq / p.hkv;
  const int chunks = (group + G - 1) / G;
  const int64_t item = int64_t(blockIdx.x) * kGroupedWarps + (threadIdx.x >> 5);
  if (item >= p.tq * p.hkv * chunks * int64_t(splits)) return;
  const int split = int(item % splits);
  int64_t rest = item / splits;
  const int chunk = int(rest % chunks);
  rest /= chunks;
  const int kvh = int(rest % p.hkv);
  const int64_t row = rest / p.hkv;
  const int h0 = kvh * group + chunk * G;   // the chunk's first query head
  const int ng = min(G, group - chunk * G);  // its heads (warp-uniform)
  const int d = p.d;
  const int32_t qp = p.q_pos[row];
  const int qeff = qp < 0 ? -1 : (p.causal ? int(qp) : INT_MAX);

  float q[G][NJ], acc[G][NJ], m[G], l[G];
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
      const int c = lane + 32 * j;
      q[g][j] = g < ng && c < d ? p.q[(row * p.hq + h0 + g) * d + c] : 0.f;
      acc[g][j] = 0.f;
    }
    m[g] = -CUDART_INF_F;
    l[g] = 0.f;
  }
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int piece_begin = pieces ? split_first[split] : 0;
  const int piece_end = pieces ? split_first[split + 1] : 1;
  for (int pc = piece_begin; qeff >= 0 && pc < piece_end; ++pc) {
    const KeyBlock blk = split_piece<KT>(p, pieces, pc, split, keys_per_split);
    for (int64_t base = 0; base < blk.n; base += 32) {
      const int64_t jl = base + lane;
      const int32_t kp = jl < blk.n ? blk.pos[jl] : -1;
      unsigned vis = __ballot_sync(kFullMask, kp >= 0 && kp <= qeff);
      while (vis) {
        const int b = __ffs(vis) - 1;
        vis &= vis - 1;
        const int64_t key = base + b;
        const KT* kr = static_cast<const KT*>(blk.k) + (key * p.hkv + kvh) * d;  // [d]
        const KT* vr = static_cast<const KT*>(blk.v) + (key * p.hkv + kvh) * d;  // [d]
        float kx[NJ], vx[NJ];
#pragma unroll
        for (int j = 0; j < NJ; ++j) {
          const int c = lane + 32 * j;
          kx[j] = c < d ? kv_load(kr, c) : 0.f;
          vx[j] = c < d ? kv_load(vr, c) : 0.f;
        }
        // Unrolled with constant indices (the arrays stay in registers);
        // heads past ng are skipped by a warp-uniform test.
#pragma unroll
        for (int g = 0; g < G; ++g) {
          if (g < ng) {
            float dot = 0.f;
#pragma unroll
            for (int j = 0; j < NJ; ++j) dot += q[g][j] * kx[j];
            const float sv = warp_sum(dot) * scale_log2;  // identical in every lane
            // exp(-inf) weighs 0, as on the CPU (and exp2(-inf - -inf) would be NaN).
            if (sv != -CUDART_INF_F) {
              if (sv > m[g]) {
                const float corr = exp2f(m[g] - sv);
                l[g] *= corr;
#pragma unroll
                for (int j = 0; j < NJ; ++j) acc[g][j] *= corr;
                m[g] = sv;
              }
              const float w = exp2f(sv - m[g]);
              l[g] += w;
#pragma unroll
              for (int j = 0; j < NJ; ++j) acc[g][j] += w * vx[j];
            }
          }
        }
      }
    }
  }
#pragma unroll
  for (int g = 0; g < G; ++g) {
    if (g >= ng) continue;
    const int64_t rh = row * p.hq + h0 + g;
    const bool live = !(l[g] <= 0.f);  // a NaN score poisons the row, as in kernels/cpu
    const float inv = live ? 1.f / l[g] : 0.f;
    const int64_t part = rh * splits + split;
    float* o = splits == 1 ? p.out + rh * d : part_out + part * d;  // [d]
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
      const int c = lane + 32 * j;
      if (c < d) o[c] = acc[g][j] * inv;
    }
    if (lane == 0) {
      const float lse = live ? (m[g] + log2f(l[g])) * 0.6931471805599453f : -CUDART_INF_F;
      if (splits == 1)
        p.lse[rh] = lse;
      else
        part_lse[part] = lse;
    }
  }
}

}  // namespace ringlm::kernels::cuda::attn
